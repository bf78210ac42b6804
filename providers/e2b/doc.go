// Package e2b is a computemw.Provider backed by E2B cloud sandboxes.
//
// The control plane (create, get, list, kill, set timeout, connect) is the
// E2B REST API, authenticated with the X-API-Key header. Inside a sandbox
// the provider talks to envd, the sandbox's agent, authenticated with the
// X-Access-Token header that the create response hands out (creates ask for
// secure, without which E2B issues none): processes
// (streamed output, standard input, signals, pseudo-terminals) and the
// filesystem (stat, list, mkdir, move, remove) over the Connect protocol,
// and file contents over envd's /files endpoint.
//
// The Connect clients are generated from the vendor's protos in
// internal/envd/proto with buf (make generate-e2b); the generated code is
// committed.
//
// The envd host is not part of the vendor's API descriptions: by default
// it is "<EnvdPort>-<sandboxID>.<domain>" over HTTPS, where domain is the
// one the create response names (or Options.Domain); Options.EnvdURL
// replaces the rule.
//
// envd runs inside the tenant's own sandbox, so the tenant chooses its
// answers. Every request goes through a client pinned to one origin
// (providers/internal/vendorhttp): the API key goes only to the control
// plane's origin, the access token only to that sandbox's envd, and no
// redirect of either service is followed: it is an error of class
// UNAVAILABLE. Neither API description documents a redirect.
//
// envd's features came in versions; the provider reads each sandbox's
// envdVersion and keeps to what it has (see versions.go).
//
// Package e2bfake holds a contract fake of both services for tests.
package e2b

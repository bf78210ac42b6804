// Package e2bfake is a contract fake of E2B for tests: one loopback HTTPS
// server (httptest) that plays the control plane (api.<domain>) and the
// envd agent of every sandbox (<port>-<sandboxID>.<domain>), routed by the
// Host header. Fake.Client dials it for every host name.
//
// It holds the client to the vendor's API descriptions: a request with a
// wrong or missing X-API-Key or X-Access-Token, an unknown path, a JSON
// field the descriptions do not name, a timeout that cannot be seconds, or
// an RPC that is not spoken in the Connect protocol fails the test that
// owns the fake (t.Errorf) and is answered with an error. Every request is
// first checked against the vendor's published descriptions, embedded from
// specs/ (openapi.yml for the control plane, envd.yaml for envd's REST
// routes, strict about unknown JSON fields and query parameters), or, for
// an RPC, decoded with the message types of the vendor's protos, unknown
// fields refused; a request that does not match is answered 400 without
// being served. Each exchange is recorded (Fake.Exchanges).
//
// Sandboxes are directories: each has a root of its own under a temporary
// directory, absolute paths map into it ("/home/user/x" is
// <root>/home/user/x), and processes really run on the host, with sh, in
// their own process group, in the mapped working directory, on pipes or a
// pseudo-terminal (github.com/creack/pty). This is no isolation: the fake is
// for tests only.
//
// Faults can be injected (Fault): error answers with Retry-After, redirects
// (as envd, in the tenant's sandbox, may answer anything), resets of
// the connection in the middle of a process's stream, slow streams, and
// creates held until the test releases them (HoldCreates), so that a
// create can succeed after its client gave up. Streams can be cut when
// silent (SetIdleCut, as E2B's edge does) and carry the keepalives their
// start request asks for; sandboxes advertise an envd version
// (SetEnvdVersion) below whose gates a feature is a contract violation; an
// envd access token is issued only to a create that asks for secure. The fake keeps books of live
// sandboxes and processes (Live, WaitNoneLive, Count).
package e2bfake

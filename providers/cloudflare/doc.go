// Package cloudflare is a computemw.Provider backed by Cloudflare Sandbox
// (https://developers.cloudflare.com/sandbox/) through the official HTTP
// bridge Worker of github.com/cloudflare/sandbox-sdk (bridge/worker): the
// Sandbox SDK itself runs only inside a Worker, and the bridge is what
// ComputeSDK's Cloudflare provider talks to. Configure it with [Options]
// and [New], or from CLOUDFLARE_SANDBOX_URL and CLOUDFLARE_SANDBOX_API_KEY
// with [FromEnv]; every call carries "Authorization: Bearer <key>".
//
// What the bridge offers and how the provider maps it:
//
//   - Create: POST /v1/sandbox hands out an ID; GET /v1/sandbox/{id}/running
//     starts the container. Destroy: DELETE /v1/sandbox/{id}.
//   - Exec: POST /v1/sandbox/{id}/exec answers a server-sent event stream
//     (stdout and stderr chunks in base64, then exit with the code, or
//     error). The bridge's exec has no environment and no standard input:
//     the provider runs every command under a small sh wrapper that reads
//     the sandbox's env file, exports the execution's variables and takes
//     standard input from a file uploaded first (see Sandbox.Exec).
//   - Files: GET and PUT /v1/sandbox/{id}/file/workspace/... read and write
//     under /workspace, the root of every path of the kit. The bridge has
//     no list, stat, mkdir or delete route: those run find, mkdir -p and
//     rm -rf through the exec stream, as the vendor's SDKs do.
//   - Terminals: the PTY WebSocket GET /v1/sandbox/{id}/pty (binary frames
//     for I/O, JSON text frames for resize and status), scoped with the
//     Session-Id header to a bridge session made for each terminal.
//   - Attach: by ID, without a call, so that kit instances sharing a
//     session store serve each other's sessions.
//
// Not offered by the bridge, so not by the provider: templates other than
// a language (the Worker fixes the image), per-sandbox memory, CPU or
// process caps, network isolation (the bridge has no egress control),
// stopping a command before its timeout, CPU time and memory in Usage,
// and a list of sandboxes.
//
// Errors map to the kit's classes (errors.go); only idempotent calls are
// retried, with backoff and Retry-After. A create that fails, is cancelled
// or answers after its caller gave up is destroyed. Every request goes
// through a client pinned to the bridge's origin
// (providers/internal/vendorhttp): the API key goes nowhere else, and no
// redirect is followed. The key is never put in an error or a log.
//
// Package cloudflarefake holds a contract fake of the bridge for tests.
package cloudflare

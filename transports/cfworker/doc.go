// Package cfworker serves an http.Handler — the kit's route group, or any
// other — as a Cloudflare Worker: a Go program built with GOOS=js
// GOARCH=wasm and the Go toolchain's WebAssembly glue
// ($(go env GOROOT)/lib/wasm/wasm_exec.js), loaded by the Worker's module
// cfworker.mjs (in this package's directory).
//
// Each request gets a Go instance of its own: the Worker's fetch handler
// instantiates the program, the program builds what it serves and calls
// [Serve], which turns the Worker's Request into an *http.Request, runs
// the handler, hands the answer back as a Response, and returns; then the
// program exits. Nothing of Go's memory lives from one request to the
// next, so counters and records that must (rate limits, quotas, sessions)
// need a store the Worker reaches over fetch; and a request's sandboxes
// must be destroyed before it answers (computemw.Config.DestroyBeforeReturn).
// A Worker runs many isolates side by side and evicts them at any time, so
// even JavaScript memory is no shared store (docs/serverless.md).
//
// Outbound HTTP goes through the Worker's fetch: [Transport] is the
// http.RoundTripper to give every client the program makes (a provider's
// HTTPClient). It does not follow redirects, bounds what it sends, streams
// what it receives and aborts a call whose context ends. Go's own js/wasm
// transport also uses fetch, but it follows redirects and falls back to
// dialing sockets (which a Worker cannot) when it takes the runtime for
// Node.js.
//
// Bodies are bounded both ways (Options): a larger request is answered 413
// before the handler runs, or its read fails at the bound. An answer is
// held until the handler flushes (http.Flusher) or returns; from a flush
// on it streams out (server-sent events arrive as they are written). An
// answer that outgrows its bound is replaced by a 502 when it was not sent
// yet, and cut when it was. WebSocket upgrades are not served (the writer
// offers no http.Hijacker).
//
// The request's RemoteAddr is its CF-Connecting-IP header, which
// Cloudflare's edge sets to the client's address whatever the client
// sent; a workerd of your own passes the client's header on, so there it
// is no address to trust.
//
// On any other platform Serve returns [ErrNotWorker] and Transport is
// http.DefaultTransport, so code using the package builds and tests
// everywhere.
//
//	func main() {
//		h := buildHandler() // from os.Getenv: the Worker's vars and secrets
//		if err := cfworker.Serve(h, cfworker.Options{}); err != nil {
//			slog.Error("worker", "error", err)
//			os.Exit(1)
//		}
//	}
package cfworker

//go:build !(js && wasm)

package cfworker

import "net/http"

// Serve serves the Worker's request with h; outside a Worker it returns
// [ErrNotWorker].
func Serve(h http.Handler, opts Options) error { return ErrNotWorker }

// Transport is the RoundTripper of outbound HTTP: outside a Worker,
// http.DefaultTransport.
func Transport() http.RoundTripper { return http.DefaultTransport }

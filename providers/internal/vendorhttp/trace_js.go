//go:build js

package vendorhttp

import "net/http"

// traced is next: a js/wasm build (a Cloudflare Worker) leaves
// OpenTelemetry out, to stay small.
func traced(next http.RoundTripper) http.RoundTripper { return next }

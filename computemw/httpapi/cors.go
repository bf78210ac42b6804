package httpapi

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/computemw/kit/computemw"
)

// Cross-origin requests (CORS) for a front end served from another origin.
// Only the origins of Config.AllowedOrigins are answered ("*" is any); the
// default, no list, sends no CORS header and refuses preflights, so a
// browser page of another origin can use neither the routes nor the
// WebSocket. The same list governs both.

// corsAllowHeaders are the request headers a front end may send.
const corsAllowHeaders = "Authorization, Content-Type, X-API-Key, X-Request-ID"

// corsExposeHeaders are the response headers a front end may read.
const corsExposeHeaders = "X-Request-ID, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, RateLimit-Policy"

// corsAllowed reports whether origin is one of Config.AllowedOrigins.
func (k *API) corsAllowed(origin string) bool {
	if origin == "" {
		return false
	}
	for _, a := range k.cfg.AllowedOrigins {
		if a == "*" || strings.EqualFold(strings.TrimSuffix(a, "/"), origin) {
			return true
		}
	}
	return false
}

// IsPreflight reports whether r is a CORS preflight: OPTIONS with
// Access-Control-Request-Method. Adapters' middleware answer it with
// [API.Preflight] instead of creating a sandbox.
func IsPreflight(r *computemw.Request) bool {
	return r.Method == http.MethodOptions && r.Header != nil && r.Header.Get("Access-Control-Request-Method") != ""
}

// Preflight answers a CORS preflight for a route that takes methods: 204
// with the Access-Control-Allow-* headers when the origin is allowed and
// the method is one of them, else 403 FORBIDDEN. No policy runs: a
// preflight carries no credentials.
func (k *API) Preflight(ctx context.Context, r *computemw.Request, methods []string) *Response {
	origin := r.Header.Get("Origin")
	want := strings.ToUpper(strings.TrimSpace(r.Header.Get("Access-Control-Request-Method")))
	if !k.corsAllowed(origin) || (methods != nil && !slices.Contains(methods, want)) {
		return k.Serve(ctx, func(context.Context, *computemw.Request) (*Response, error) {
			return nil, computemw.Errorf(computemw.CodeForbidden, "cross-origin %s from %q is not allowed", truncate(want, 16), truncate(origin, 128))
		}, r)
	}
	h := make(http.Header, 6)
	h.Set("Access-Control-Allow-Origin", origin)
	allow := want
	if methods != nil {
		allow = strings.Join(methods, ", ")
	}
	h.Set("Access-Control-Allow-Methods", allow)
	h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
	h.Set("Access-Control-Max-Age", "600")
	h.Add("Vary", "Origin")
	return &Response{Status: http.StatusNoContent, Header: h}
}

// CORSHeaders adds to h what a response to an allowed origin carries:
// Access-Control-Allow-Origin and the headers a front end may read.
// Adapters' middleware call it for the application's own routes; the route
// group does it itself.
func (k *API) CORSHeaders(h http.Header, r *computemw.Request) {
	origin := ""
	if r.Header != nil {
		origin = r.Header.Get("Origin")
	}
	if !k.corsAllowed(origin) {
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
	h.Add("Vary", "Origin")
}

package computemw

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
)

// Header reads request headers; http.Header satisfies it, and the Fiber
// adapter supplies its own.
type Header interface {
	Get(key string) string
}

// Request is a framework-neutral HTTP request handed to the kit's
// operations by an adapter.
type Request struct {
	Method string
	// Params holds path parameters such as "id" of /sandboxes/{id}.
	Params map[string]string
	Header Header
	// Host is the host the client asked for (the Host header, or HTTP/2's
	// :authority), checked against Config.AllowedHosts.
	Host string
	Body io.Reader
	// RemoteAddr is the client's address as the server saw it.
	RemoteAddr string
	// RawQuery is the URL's query, without the '?' (routes such as GET
	// /sandboxes/{id}/files?path=... read it).
	RawQuery string
	// Path is the URL path the client asked for. GET /openapi.json names
	// the route group's prefix from it; adapters set it.
	Path string
}

// RequestIDHeader is the header that carries the request ID both ways.
const RequestIDHeader = "X-Request-ID"

// requestIDCanonical is RequestIDHeader in canonical form, for setting it
// without canonicalizing on every request.
var requestIDCanonical = http.CanonicalHeaderKey(RequestIDHeader)

// BeginRequest returns ctx carrying the request's ID: the client's
// X-Request-ID when it is a sane token, else a new one. Adapters call it once
// per request, before any middleware of the kit, and echo the ID in the
// response header.
func BeginRequest(ctx context.Context, h Header) (context.Context, string) {
	if id := RequestIDFrom(ctx); id != "" {
		return ctx, id
	}
	id := ""
	if h != nil {
		id = h.Get(RequestIDHeader)
	}
	if !validRequestID(id) {
		id = newRequestID()
	}
	ctx, hdr := withResponseHeader(ctx)
	hdr[requestIDCanonical] = []string{id}
	return withRequestID(ctx, id), id
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func newRequestID() string { return randomHex(12) }

// randomHex returns n random bytes in hexadecimal: request IDs, session
// reservation tokens, instance IDs.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

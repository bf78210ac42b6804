package computemw

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
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
	Body   io.Reader
	// RemoteAddr is the client's address as the server saw it.
	RemoteAddr string
}

// Param returns a path parameter, or "".
func (r *Request) Param(name string) string { return r.Params[name] }

// Response is a complete response produced by the kit; adapters write
// Status, then Header, then Body.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// HandlerFunc is a framework-neutral operation: it returns either a
// response or an error that [Kit.Serve] renders.
type HandlerFunc func(ctx context.Context, r *Request) (*Response, error)

// Route is one operation of the prebuilt route group. Path is relative to
// the group's prefix and writes parameters as {name}.
type Route struct {
	Method  string
	Path    string
	Handler HandlerFunc
}

// Routes returns the prebuilt route group. Adapters register each route on
// their framework's router (translating {name} to the router's syntax) and
// serve it with [Kit.Serve].
func (k *Kit) Routes() []Route {
	return []Route{
		{http.MethodPost, "/execute", k.handleExecute},
		{http.MethodPost, "/exec", k.handleExec},
		{http.MethodPost, "/files", k.handleFiles},
		{http.MethodGet, "/health", k.handleHealth},
	}
}

// RequestIDHeader is the header that carries the request ID both ways.
const RequestIDHeader = "X-Request-ID"

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
	return WithRequestID(ctx, id), id
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

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ServeRoute is [Kit.Serve] for a route registered for every method, as
// adapters do: a method the route does not take is a 405 METHOD_NOT_ALLOWED
// with an Allow header, identical on every framework.
func (k *Kit) ServeRoute(ctx context.Context, rt Route, r *Request) *Response {
	if r.Method != rt.Method && !(rt.Method == http.MethodGet && r.Method == http.MethodHead) {
		resp := k.Serve(ctx, func(context.Context, *Request) (*Response, error) {
			return nil, Errorf(CodeMethodNotAllowed, "method %s is not allowed on %s", r.Method, rt.Path)
		}, r)
		resp.Header.Set("Allow", rt.Method)
		return resp
	}
	return k.Serve(ctx, rt.Handler, r)
}

// Serve runs one operation for an adapter: it assigns the request ID,
// recovers a panic into a 500, and renders an error with the status and code
// of the table in errors.go. The returned response is never nil.
func (k *Kit) Serve(ctx context.Context, h HandlerFunc, r *Request) (resp *Response) {
	ctx, id := BeginRequest(ctx, r.Header)
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			err := fmt.Errorf("computemw: panic in handler: %v\n%s", p, debug.Stack())
			resp = k.ErrorResponse(ctx, err, r.Header)
		}
		if resp.Header == nil {
			resp.Header = make(http.Header, 2)
		}
		resp.Header.Set(RequestIDHeader, id)
	}()
	res, err := h(ctx, r)
	if err != nil {
		return k.ErrorResponse(ctx, err, r.Header)
	}
	return res
}

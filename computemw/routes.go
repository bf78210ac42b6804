package computemw

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strings"
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
}

// Param returns a path parameter, or "".
func (r *Request) Param(name string) string { return r.Params[name] }

// Response is a complete response produced by the kit; adapters write
// Status, then Header, then Body.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	// Stream, when set, writes the body as it is produced (Server-Sent
	// Events): the adapter writes Status and Header, then calls Stream
	// once with a context that ends when the client is gone (or
	// context.Background() where the framework cannot tell), the body
	// writer, and a flush function pushing what was written to the client.
	Stream func(ctx context.Context, w io.Writer, flush func() error) error
}

// HandlerFunc is a framework-neutral operation: it returns either a
// response or an error that [Kit.Serve] renders.
type HandlerFunc func(ctx context.Context, r *Request) (*Response, error)

// Route is one path of the prebuilt route group with the operations it
// answers, by method. Path is relative to the group's prefix and writes
// parameters as {name}. Adapters register each route for every method and
// serve it with [Kit.ServeRoute], which dispatches on the method — so a
// wrong method is the same 405 on every framework.
type Route struct {
	Path string
	// Op is the operation the route serves.
	Op Op
	// Methods lists the methods the route answers (HEAD is implied by GET).
	Methods  []string
	handlers map[string]HandlerFunc
}

// routeTable collects operations into one Route per path, in order.
type routeTable []Route

func (t *routeTable) add(method, path string, op Op, h HandlerFunc) {
	for i := range *t {
		if (*t)[i].Path == path {
			(*t)[i].Methods = append((*t)[i].Methods, method)
			(*t)[i].handlers[method] = h
			return
		}
	}
	*t = append(*t, Route{Path: path, Op: op, Methods: []string{method}, handlers: map[string]HandlerFunc{method: h}})
}

// Routes returns the prebuilt route group. Adapters register each route on
// their framework's router (translating {name} to the router's syntax) and
// serve it with [Kit.ServeRoute].
func (k *Kit) Routes() []Route {
	var t routeTable
	t.add(http.MethodPost, "/execute", OpExecute, jsonBody(k.handleExecute))
	t.add(http.MethodPost, "/exec", OpExec, jsonBody(k.handleExec))
	t.add(http.MethodPost, "/files", OpFiles, jsonBody(k.handleFiles))
	t.add(http.MethodGet, "/health", OpHealth, k.handleHealth)
	t.add(http.MethodGet, "/ready", OpReady, k.handleReady)
	t.add(http.MethodGet, "/metrics", OpMetrics, k.handleMetrics)
	t.add(http.MethodGet, "/usage", OpUsage, k.handleUsage)
	t.add(http.MethodGet, "/languages", OpLanguages, k.handleLanguages)
	t.add(http.MethodGet, "/openapi.json", OpOpenAPI, k.handleOpenAPI)
	t.add(http.MethodPost, "/sandboxes", OpSessions, jsonBody(k.handleCreateSession))
	t.add(http.MethodGet, "/sandboxes", OpSessions, k.handleListSessions)
	t.add(http.MethodGet, "/sandboxes/{id}", OpSessions, k.handleGetSession)
	t.add(http.MethodDelete, "/sandboxes/{id}", OpSessions, k.handleDeleteSession)
	t.add(http.MethodPost, "/sandboxes/{id}/keepalive", OpSessions, k.handleKeepalive)
	t.add(http.MethodPost, "/sandboxes/{id}/execute", OpExecute, jsonBody(k.sessionRoute(k.handleExecute)))
	t.add(http.MethodPost, "/sandboxes/{id}/exec", OpExec, jsonBody(k.sessionRoute(k.handleExec)))
	t.add(http.MethodPost, "/sandboxes/{id}/files", OpFiles, jsonBody(k.sessionRoute(k.handleFiles)))
	t.add(http.MethodPost, "/sandboxes/{id}/exec/stream", OpExec, jsonBody(k.sessionRoute(k.handleExecStream)))
	t.add(http.MethodPost, "/sandboxes/{id}/processes", OpExec, jsonBody(k.handleStartProcess))
	t.add(http.MethodGet, "/sandboxes/{id}/processes", OpExec, k.handleListProcesses)
	t.add(http.MethodDelete, "/sandboxes/{id}/processes/{pid}", OpExec, k.handleKillProcess)
	return t
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

// ServeRoute serves a request on a route registered for every method, as
// adapters do: it runs the route's operation for r.Method, or answers 405
// METHOD_NOT_ALLOWED with an Allow header, identically on every framework.
func (k *Kit) ServeRoute(ctx context.Context, rt Route, r *Request) *Response {
	if IsPreflight(r) {
		return k.Preflight(ctx, r, rt.Methods)
	}
	resp := k.serveRoute(ctx, rt, r)
	k.CORSHeaders(resp.Header, r)
	return resp
}

func (k *Kit) serveRoute(ctx context.Context, rt Route, r *Request) *Response {
	h, ok := rt.handlers[r.Method]
	if !ok && r.Method == http.MethodHead {
		h, ok = rt.handlers[http.MethodGet]
	}
	if !ok {
		resp := k.Serve(ctx, func(context.Context, *Request) (*Response, error) {
			return nil, Errorf(CodeMethodNotAllowed, "method %s is not allowed on %s", r.Method, rt.Path)
		}, r)
		resp.Header.Set("Allow", strings.Join(rt.Methods, ", "))
		return resp
	}
	return k.Serve(ctx, func(ctx context.Context, r *Request) (*Response, error) {
		ctx, err := k.Admit(ctx, rt.Op, r)
		if err != nil {
			return nil, err
		}
		return h(withRoute(ctx, rt.Path), r)
	}, r)
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
		for k, v := range ResponseHeader(ctx) {
			resp.Header[k] = v
		}
		resp.Header[requestIDCanonical] = []string{id}
	}()
	res, err := h(ctx, r)
	if err != nil {
		return k.ErrorResponse(ctx, err, r.Header)
	}
	return res
}

// jsonBody guards a route that decodes a JSON body: the body must be
// declared JSON (a cross-site form or text/plain POST, which browsers send
// without a preflight, is refused) and must not be compressed (nothing is
// inflated on the kit's behalf: a small compressed body can inflate
// without bound). Both refusals are 415 UNSUPPORTED_MEDIA_TYPE.
func jsonBody(h HandlerFunc) HandlerFunc {
	return func(ctx context.Context, r *Request) (*Response, error) {
		if err := checkJSONBody(r.Header); err != nil {
			return nil, err
		}
		return h(ctx, r)
	}
}

func checkJSONBody(h Header) error {
	if enc := strings.TrimSpace(h.Get("Content-Encoding")); enc != "" && !strings.EqualFold(enc, "identity") {
		return Errorf(CodeUnsupportedMedia, "Content-Encoding %q is not accepted: send the body uncompressed", truncate(enc, 32))
	}
	ct, _, _ := strings.Cut(h.Get("Content-Type"), ";")
	ct = strings.ToLower(strings.TrimSpace(ct))
	if ct != "application/json" && !(strings.HasPrefix(ct, "application/") && strings.HasSuffix(ct, "+json")) {
		return Errorf(CodeUnsupportedMedia, "Content-Type must be application/json")
	}
	return nil
}

// NotFound answers a path under the route group that no route has: the
// kit's JSON 404 NOT_FOUND, identical on every framework. Adapters answer
// their group's unknown paths with it (or offer a handler that does, where
// the framework decides unknown paths at the router's level).
func (k *Kit) NotFound(ctx context.Context, r *Request) *Response {
	resp := k.Serve(ctx, func(context.Context, *Request) (*Response, error) {
		return nil, Errorf(CodeNotFound, "no such route")
	}, r)
	k.CORSHeaders(resp.Header, r)
	return resp
}

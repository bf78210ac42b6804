package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"

	"github.com/computemw/kit/computemw"
)

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
// response or an error that [API.Serve] renders.
type HandlerFunc func(ctx context.Context, r *computemw.Request) (*Response, error)

// Route is one path of the prebuilt route group with the operations it
// answers, by method. Path is relative to the group's prefix and writes
// parameters as {name}. Adapters register each route for every method and
// serve it with [API.ServeRoute], which dispatches on the method — so a
// wrong method is the same 405 on every framework.
type Route struct {
	Path string
	// Op is the operation the route serves.
	Op computemw.Op
	// Methods lists the methods the route answers (HEAD is implied by GET).
	Methods  []string
	handlers map[string]HandlerFunc
}

// routeTable collects operations into one Route per path, in order.
type routeTable []Route

func (t *routeTable) add(method, path string, op computemw.Op, h HandlerFunc) {
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
// serve it with [API.ServeRoute].
func (k *API) Routes() []Route {
	var t routeTable
	t.add(http.MethodPost, "/execute", computemw.OpExecute, jsonBody(k.handleExecute))
	t.add(http.MethodPost, "/exec", computemw.OpExec, jsonBody(k.handleExec))
	t.add(http.MethodPost, "/files", computemw.OpFiles, jsonBody(k.handleFiles))
	t.add(http.MethodGet, "/health", computemw.OpHealth, k.handleHealth)
	t.add(http.MethodGet, "/ready", computemw.OpReady, k.handleReady)
	t.add(http.MethodGet, "/metrics", computemw.OpMetrics, k.handleMetrics)
	t.add(http.MethodGet, "/usage", computemw.OpUsage, k.handleUsage)
	t.add(http.MethodGet, "/languages", computemw.OpLanguages, k.handleLanguages)
	t.add(http.MethodGet, "/openapi.json", computemw.OpOpenAPI, k.handleOpenAPI)
	t.add(http.MethodPost, "/sandboxes", computemw.OpSessions, optionalJSONBody(k.handleCreateSession))
	t.add(http.MethodGet, "/sandboxes", computemw.OpSessions, k.handleListSessions)
	t.add(http.MethodGet, "/sandboxes/{id}", computemw.OpSessions, k.handleGetSession)
	t.add(http.MethodDelete, "/sandboxes/{id}", computemw.OpSessions, k.handleDeleteSession)
	t.add(http.MethodPost, "/sandboxes/{id}/keepalive", computemw.OpSessions, k.handleKeepalive)
	t.add(http.MethodPost, "/sandboxes/{id}/execute", computemw.OpExecute, jsonBody(k.sessionRoute(k.handleExecute)))
	t.add(http.MethodPost, "/sandboxes/{id}/exec", computemw.OpExec, jsonBody(k.sessionRoute(k.handleExec)))
	t.add(http.MethodPost, "/sandboxes/{id}/files", computemw.OpFiles, k.sessionRoute(k.handlePostFiles))
	t.add(http.MethodGet, "/sandboxes/{id}/files", computemw.OpFiles, k.sessionRoute(k.handleGetFile))
	t.add(http.MethodPut, "/sandboxes/{id}/files", computemw.OpFiles, k.sessionRoute(k.handlePutFile))
	t.add(http.MethodPost, "/sandboxes/{id}/exec/stream", computemw.OpExec, jsonBody(k.sessionRoute(k.handleExecStream)))
	t.add(http.MethodPost, "/sandboxes/{id}/processes", computemw.OpExec, jsonBody(k.handleStartProcess))
	t.add(http.MethodGet, "/sandboxes/{id}/processes", computemw.OpExec, k.handleListProcesses)
	t.add(http.MethodDelete, "/sandboxes/{id}/processes/{pid}", computemw.OpExec, k.handleKillProcess)
	k.contextRoutes(&t)
	k.jobRoutes(&t)
	return t
}

// ServeRoute serves a request on a route registered for every method, as
// adapters do: it runs the route's operation for r.Method, or answers 405
// METHOD_NOT_ALLOWED with an Allow header, identically on every framework.
func (k *API) ServeRoute(ctx context.Context, rt Route, r *computemw.Request) *Response {
	if IsPreflight(r) {
		return k.Preflight(ctx, r, rt.Methods)
	}
	resp := k.serveRoute(ctx, rt, r)
	k.CORSHeaders(resp.Header, r)
	return resp
}

func (k *API) serveRoute(ctx context.Context, rt Route, r *computemw.Request) *Response {
	h, ok := rt.handlers[r.Method]
	if !ok && r.Method == http.MethodHead {
		h, ok = rt.handlers[http.MethodGet]
	}
	if !ok {
		resp := k.Serve(ctx, func(context.Context, *computemw.Request) (*Response, error) {
			return nil, computemw.Errorf(computemw.CodeMethodNotAllowed, "method %s is not allowed on %s", r.Method, rt.Path)
		}, r)
		resp.Header.Set("Allow", strings.Join(rt.Methods, ", "))
		return resp
	}
	return k.Serve(ctx, func(ctx context.Context, r *computemw.Request) (*Response, error) {
		ctx, err := k.kit.Admit(ctx, rt.Op, r)
		if err != nil {
			return nil, err
		}
		resp, err := h(ctx, r)
		if err != nil {
			return nil, elsewhere(ctx, rt.Path, r, err)
		}
		return resp, nil
	}, r)
}

// elsewhere turns WRONG_INSTANCE, a session that another instance of the
// kit holds, into a redirect there (307 SESSION_ELSEWHERE with Location:
// the same route under the owner's Config.InstanceURL) when the owner
// published its URL.
func elsewhere(ctx context.Context, route string, r *computemw.Request, err error) error {
	var e *computemw.Error
	if !errors.As(err, &e) || e.Code != computemw.CodeWrongInstance {
		return err
	}
	d, _ := e.Details.(map[string]string)
	base := d["instanceUrl"]
	h := computemw.ResponseHeader(ctx)
	if base == "" || h == nil {
		return err
	}
	path := route
	for name, v := range r.Params {
		path = strings.ReplaceAll(path, "{"+name+"}", url.PathEscape(v))
	}
	if strings.Contains(path, "{") {
		return err
	}
	loc := base + path
	h.Set("Location", loc)
	return &computemw.Error{Code: computemw.CodeSessionElsewhere, Message: e.Message,
		Details: map[string]string{"instance": d["instance"], "location": loc}}
}

// requestIDCanonical is computemw.RequestIDHeader in canonical form, for
// setting it without canonicalizing on every request.
var requestIDCanonical = http.CanonicalHeaderKey(computemw.RequestIDHeader)

// truncate cuts s to at most n bytes for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Serve runs one operation for an adapter: it assigns the request ID,
// recovers a panic into a 500, and renders an error with the status and code
// of the table in errors.go. The returned response is never nil.
func (k *API) Serve(ctx context.Context, h HandlerFunc, r *computemw.Request) (resp *Response) {
	ctx, id := computemw.BeginRequest(ctx, r.Header)
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
		for k, v := range computemw.ResponseHeader(ctx) {
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
	return func(ctx context.Context, r *computemw.Request) (*Response, error) {
		if err := checkJSONBody(r.Header); err != nil {
			return nil, err
		}
		return h(ctx, r)
	}
}

// optionalJSONBody is jsonBody for a route whose body may be empty: a
// request with no Content-Type passes when it has no body at all (what a
// bare "curl -X POST" sends); with a body it must be declared JSON.
func optionalJSONBody(h HandlerFunc) HandlerFunc {
	return func(ctx context.Context, r *computemw.Request) (*Response, error) {
		if r.Header.Get("Content-Type") == "" && r.Header.Get("Content-Encoding") == "" {
			if r.Body != nil {
				var b [1]byte
				if n, _ := io.ReadFull(r.Body, b[:]); n > 0 {
					return nil, computemw.Errorf(computemw.CodeUnsupportedMedia, "Content-Type must be application/json")
				}
			}
			return h(ctx, r)
		}
		return jsonBody(h)(ctx, r)
	}
}

func checkJSONBody(h computemw.Header) error {
	if enc := strings.TrimSpace(h.Get("Content-Encoding")); enc != "" && !strings.EqualFold(enc, "identity") {
		return computemw.Errorf(computemw.CodeUnsupportedMedia, "Content-Encoding %q is not accepted: send the body uncompressed", truncate(enc, 32))
	}
	ct, _, _ := strings.Cut(h.Get("Content-Type"), ";")
	ct = strings.ToLower(strings.TrimSpace(ct))
	if ct != "application/json" && !(strings.HasPrefix(ct, "application/") && strings.HasSuffix(ct, "+json")) {
		return computemw.Errorf(computemw.CodeUnsupportedMedia, "Content-Type must be application/json")
	}
	return nil
}

// NotFound answers a path under the route group that no route has: the
// kit's JSON 404 NOT_FOUND, identical on every framework. Adapters answer
// their group's unknown paths with it (or offer a handler that does, where
// the framework decides unknown paths at the router's level).
func (k *API) NotFound(ctx context.Context, r *computemw.Request) *Response {
	resp := k.Serve(ctx, func(context.Context, *computemw.Request) (*Response, error) {
		return nil, computemw.Errorf(computemw.CodeNotFound, "no such route")
	}, r)
	k.CORSHeaders(resp.Header, r)
	return resp
}

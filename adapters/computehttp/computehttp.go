// Package computehttp is the net/http adapter of computemw: sandbox-per-
// request middleware, the prebuilt route group as an http.Handler, and the
// error writer. It works with http.ServeMux and with routers built on
// net/http such as chi and gorilla/mux.
//
//	kit, _ := computemw.New(computemw.Config{Providers: []computemw.Provider{prov}})
//	mux := http.NewServeMux()
//	computehttp.Mount(mux, "/api", kit)                  // POST /api/execute, ...
//	mux.Handle("/mine", computehttp.Middleware(kit)(h))  // computehttp.Sandbox(r) in h
package computehttp

import (
	"bufio"
	"context"
	"maps"
	"net"
	"net/http"
	"strings"

	"github.com/coder/websocket"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/adapterkit"
	"github.com/computemw/kit/computemw/httpapi"
)

// Option configures [Middleware].
type Option func(*config)

type config struct {
	opts httpapi.MiddlewareOptions
	skip func(*http.Request) bool
}

// WithProvider selects the provider of the request's sandbox.
func WithProvider(name string) Option { return func(c *config) { c.opts.Provider = name } }

// WithCreateOptions configures the request's sandbox.
func WithCreateOptions(o computemw.CreateOptions) Option {
	return func(c *config) { c.opts.Create = o }
}

// WithSkipper skips sandbox creation for requests it returns true for.
func WithSkipper(skip func(*http.Request) bool) Option { return func(c *config) { c.skip = skip } }

// Middleware creates a sandbox before the next handler and destroys it
// after the handler returns — also when it panics or the client goes away.
// The handler reaches it with [Sandbox]. If the sandbox cannot be created,
// the error is written with the kit's status and code and next is not
// called.
func Middleware(kit *computemw.Kit, opts ...Option) func(http.Handler) http.Handler {
	api := httpapi.New(kit)
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if cfg.skip != nil && cfg.skip(r) {
				ctx, id := computemw.BeginRequest(r.Context(), r.Header)
				w.Header().Set(computemw.RequestIDHeader, id)
				next.ServeHTTP(w, r.WithContext(ctx))
				return
			}
			ctx, release, err := api.EnterRequest(r.Context(), adapterkit.Request(r, nil, nil), cfg.opts)
			defer release()
			maps.Copy(w.Header(), computemw.ResponseHeader(ctx))
			if err != nil {
				write(w, api.ErrorResponse(ctx, err, r.Header))
				return
			}
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// Sandbox returns the request's sandbox created by [Middleware], or nil.
// It is the Go form of Express's req.sandbox.
func Sandbox(r *http.Request) computemw.Sandbox { return computemw.SandboxFrom(r.Context()) }

// Handler serves the prebuilt route group at paths relative to where it is
// mounted: /execute, /exec, /files, /health, /ready, /metrics, the
// /sandboxes session routes, and the WebSocket endpoint /ws (same-origin
// only; mount [WebSocket] with your own options for other origins), and
// the extra endpoints a transport serves, eps (the MCP server's, say:
// computemcp's Server.Endpoint), each at its path for every method. Mount
// it under a prefix with [Mount], http.StripPrefix, or chi's Mount. It
// panics on an endpoint the group cannot serve (see
// [httpapi.API.CheckEndpoints]).
func Handler(kit *computemw.Kit, eps ...httpapi.Endpoint) http.Handler {
	api := httpapi.New(kit)
	if err := api.CheckEndpoints(eps); err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	for _, rt := range api.Routes() {
		mux.Handle(rt.Path, routeHandler(kit, rt))
	}
	for _, e := range eps {
		mux.Handle(e.Path, e.Handler)
	}
	mux.Handle("GET /ws", WebSocket(kit, nil))
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		adapterkit.Write(r.Context(), w, api.NotFound(r.Context(), adapterkit.Request(r, nil, nil)))
	}))
	return mux
}

// Mounter is the part of http.ServeMux (and of many routers) that Mount
// needs.
type Mounter interface {
	Handle(pattern string, handler http.Handler)
}

// Mount registers the route group on mux under prefix ("/api" serves
// POST /api/execute), with the extra endpoints eps (see [Handler]).
func Mount(mux Mounter, prefix string, kit *computemw.Kit, eps ...httpapi.Endpoint) {
	prefix = "/" + strings.Trim(prefix, "/")
	if prefix == "/" {
		mux.Handle("/", Handler(kit, eps...))
		return
	}
	mux.Handle(prefix+"/", http.StripPrefix(prefix, Handler(kit, eps...)))
}

func routeHandler(kit *computemw.Kit, rt httpapi.Route) http.Handler {
	api := httpapi.New(kit)
	names := adapterkit.ParamNames(rt)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := adapterkit.Request(r, names, r.PathValue)
		adapterkit.Write(r.Context(), w, api.ServeRoute(r.Context(), rt, req))
	})
}

// Error writes err with the kit's status, code and body shape (the Go form
// of an Express error handler).
func Error(w http.ResponseWriter, r *http.Request, kit *computemw.Kit, err error) {
	api := httpapi.New(kit)
	write(w, api.ErrorResponse(r.Context(), err, r.Header))
}

// HandlerFunc is a handler that returns its error instead of writing it.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Handle adapts fn: an error it returns is written with [Error], unless the
// handler already started its response, in which case it is only logged.
func Handle(kit *computemw.Kit, fn HandlerFunc) http.Handler {
	api := httpapi.New(kit)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &trackingWriter{ResponseWriter: w}
		if err := fn(tw, r); err != nil {
			if tw.wrote {
				api.LogLateError(r.Context(), err)
				return
			}
			Error(w, r, kit, err)
		}
	})
}

func write(w http.ResponseWriter, resp *httpapi.Response) {
	adapterkit.Write(context.Background(), w, resp)
}

// WebSocket serves the kit's WebSocket protocol (GET /ws): policies run
// before the upgrade, so a refused client gets a plain HTTP error; then the
// connection owns one sandbox at a time, destroyed when it closes. opts may
// be nil (same-origin clients only).
func WebSocket(kit *computemw.Kit, opts *websocket.AcceptOptions) http.Handler {
	return adapterkit.WebSocket(kit, opts)
}

// Admit admits r's caller through the kit's policies (authentication, rate
// limits ...) for op, for a handler of the application's own that then
// calls kit.Execute, kit.Acquire or kit.CreateSession with the returned
// context. The kit's response headers (X-Request-ID, X-RateLimit-*) are
// set on w, also on error; write the error with [Error].
func Admit(w http.ResponseWriter, r *http.Request, kit *computemw.Kit, op computemw.Op) (context.Context, error) {
	ctx, err := kit.Admit(r.Context(), op, adapterkit.Request(r, nil, nil))
	maps.Copy(w.Header(), computemw.ResponseHeader(ctx))
	return ctx, err
}

// trackingWriter records whether the response started. It keeps Flush,
// Hijack and Unwrap working so streaming and WebSocket upgrades pass.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (t *trackingWriter) WriteHeader(code int) {
	t.wrote = true
	t.ResponseWriter.WriteHeader(code)
}

func (t *trackingWriter) Write(b []byte) (int, error) {
	t.wrote = true
	return t.ResponseWriter.Write(b)
}

func (t *trackingWriter) Flush() {
	t.wrote = true
	_ = http.NewResponseController(t.ResponseWriter).Flush()
}

func (t *trackingWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

func (t *trackingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	t.wrote = true
	return http.NewResponseController(t.ResponseWriter).Hijack()
}

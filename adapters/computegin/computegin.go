// Package computegin is the Gin adapter of computemw: sandbox-per-request
// middleware, the prebuilt route group, and the error writer and error
// middleware.
//
//	kit, _ := computemw.New(computemw.Config{Providers: []computemw.Provider{prov}})
//	r := gin.New()
//	r.Use(gin.Recovery(), computegin.ErrorHandler(kit))
//	computegin.Register(r.Group("/api"), kit)           // POST /api/execute, ...
//	mine := r.Group("/mine", computegin.Middleware(kit)) // computegin.Sandbox(c) in handlers
//
// Handlers reach the request's context with c.Request.Context(), never with
// the *gin.Context itself: Gin pools its contexts, so a *gin.Context must not
// be used after the handler returns or from another goroutine.
package computegin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/adapterkit"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/gin-gonic/gin"
	"github.com/go-playground/validator/v10"
)

// Option configures [Middleware].
type Option func(*config)

type config struct {
	opts httpapi.MiddlewareOptions
	skip func(*gin.Context) bool
}

// WithProvider selects the provider of the request's sandbox.
func WithProvider(name string) Option { return func(c *config) { c.opts.Provider = name } }

// WithCreateOptions configures the request's sandbox.
func WithCreateOptions(o computemw.CreateOptions) Option {
	return func(c *config) { c.opts.Create = o }
}

// WithSkipper skips sandbox creation for requests it returns true for; they
// still get a request ID.
func WithSkipper(skip func(*gin.Context) bool) Option { return func(c *config) { c.skip = skip } }

// Middleware creates a sandbox before the next handlers and destroys it
// after they return — also when one panics (under gin.Recovery) or the
// client goes away. Handlers reach it with [Sandbox]. If the sandbox cannot
// be created, the error is written with the kit's status and code and the
// chain is aborted.
func Middleware(kit *computemw.Kit, opts ...Option) gin.HandlerFunc {
	api := httpapi.New(kit)
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	return func(c *gin.Context) {
		r := c.Request
		if cfg.skip != nil && cfg.skip(c) {
			ctx, _ := computemw.BeginRequest(r.Context(), r.Header)
			maps.Copy(c.Writer.Header(), computemw.ResponseHeader(ctx))
			c.Request = r.WithContext(ctx)
			c.Next()
			return
		}
		ctx, release, err := api.EnterRequest(r.Context(), adapterkit.Request(r, nil, nil), cfg.opts)
		defer release()
		maps.Copy(c.Writer.Header(), computemw.ResponseHeader(ctx))
		c.Request = r.WithContext(ctx)
		if err != nil {
			write(c, api.ErrorResponse(ctx, err, r.Header))
			c.Abort()
			return
		}
		c.Next()
	}
}

// Admit admits the request's caller through the kit's policies
// (authentication, rate limits ...) for op, for a handler of the
// application's own that then calls kit.Execute, kit.Acquire or
// kit.CreateSession with the returned context. The kit's response headers
// (X-Request-ID, X-RateLimit-*) are set, also on error; write the error
// with [Error].
func Admit(c *gin.Context, kit *computemw.Kit, op computemw.Op) (context.Context, error) {
	r := c.Request
	ctx, err := kit.Admit(r.Context(), op, adapterkit.Request(r, nil, nil))
	maps.Copy(c.Writer.Header(), computemw.ResponseHeader(ctx))
	c.Request = r.WithContext(ctx)
	return ctx, err
}

// Sandbox returns the request's sandbox created by [Middleware], or nil.
// It is the Go form of Express's req.sandbox.
func Sandbox(c *gin.Context) computemw.Sandbox {
	return computemw.SandboxFrom(c.Request.Context())
}

// Register adds the prebuilt route group, every route of [httpapi.API.Routes], to
// r (an engine or a group) at paths relative to it: /execute, /exec,
// /files, /health, /ready, /metrics, the /sandboxes session routes and
// their event stream. Each route is registered for every method, so that a
// wrong method gets the kit's 405 METHOD_NOT_ALLOWED rather than the
// router's 404. It also adds the WebSocket endpoint GET /ws, served by the
// adapterkit.WebSocket for same-origin clients; for
// other origins, add your own:
//
//	r.GET("/ws", gin.WrapH(adapterkit.WebSocket(kit, &websocket.AcceptOptions{...})))
//
// The extra endpoints a transport serves, eps (the MCP server's, say:
// computemcp's Server.Endpoint), are added at their paths for every
// method; their handlers get the request as net/http's, with Gin's
// flushing writer. Register panics on an endpoint the group cannot serve
// (see [httpapi.API.CheckEndpoints]).
func Register(r gin.IRoutes, kit *computemw.Kit, eps ...httpapi.Endpoint) {
	api := httpapi.New(kit)
	if err := api.CheckEndpoints(eps); err != nil {
		panic(err)
	}
	for _, e := range eps {
		r.Any(e.Path, gin.WrapH(e.Handler))
	}
	for _, rt := range api.Routes() {
		names := adapterkit.ParamNames(rt)
		r.Any(adapterkit.ColonPath(rt), func(c *gin.Context) {
			req := adapterkit.Request(c.Request, names, c.Param)
			write(c, api.ServeRoute(c.Request.Context(), rt, req))
		})
	}
	r.GET("/ws", gin.WrapH(adapterkit.WebSocket(kit, nil)))
}

// NotFound is the handler of unknown paths: the kit's JSON 404, as the
// route group's own answers. Gin decides unknown paths for the whole
// engine, so install it there: r.NoRoute(computegin.NotFound(kit)).
func NotFound(kit *computemw.Kit) gin.HandlerFunc {
	api := httpapi.New(kit)
	return func(c *gin.Context) {
		write(c, api.NotFound(c.Request.Context(), adapterkit.Request(c.Request, nil, nil)))
	}
}

// Error writes err with the kit's status, code and body shape and aborts
// the chain (the Go form of an Express error handler). If the
// response already started, err is logged instead. Return from the handler
// after calling it.
func Error(c *gin.Context, kit *computemw.Kit, err error) {
	api := httpapi.New(kit)
	c.Abort()
	ctx, _ := computemw.BeginRequest(c.Request.Context(), c.Request.Header)
	if c.Writer.Written() {
		api.LogLateError(ctx, err)
		return
	}
	write(c, api.ErrorResponse(ctx, err, c.Request.Header))
}

// ErrorHandler is a middleware that renders, after the handlers ran, the
// last error they pushed with c.Error(err), unless they already wrote a
// response (gin's Logger reports those errors). Install it with Use before
// the routes whose errors it renders:
//
//	r.Use(computegin.ErrorHandler(kit))
//	r.GET("/x", func(c *gin.Context) { c.Error(err); return })
func ErrorHandler(kit *computemw.Kit) gin.HandlerFunc {
	api := httpapi.New(kit)
	return func(c *gin.Context) {
		c.Next()
		if len(c.Errors) == 0 {
			return
		}
		last := c.Errors.Last()
		err := classify(last)
		// c.Bind* has answered 400 already, without a body: give it the
		// kit's.
		if c.Writer.Written() && !(last.IsType(gin.ErrorTypeBind) && c.Writer.Size() <= 0) {
			return
		}
		ctx, _ := computemw.BeginRequest(c.Request.Context(), c.Request.Header)
		c.Abort()
		write(c, api.ErrorResponse(ctx, err, c.Request.Header))
	}
}

// classify gives Gin's own errors the kit's classes: what binding a body
// reports (an empty or malformed body, a failed validation) is the client's
// BAD_REQUEST, not an internal error.
func classify(e *gin.Error) error {
	err := e.Err
	var (
		invalid validator.ValidationErrors
		syntax  *json.SyntaxError
		typ     *json.UnmarshalTypeError
	)
	switch {
	case computemw.AsError(err).Code != computemw.CodeInternal:
		return err
	// What c.Bind*/c.ShouldBind* report of the client's body: Gin's bind
	// errors, validation, and encoding/json's errors of the body.
	case e.IsType(gin.ErrorTypeBind), errors.As(err, &invalid), errors.As(err, &syntax), errors.As(err, &typ),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return computemw.Errorf(computemw.CodeBadRequest, "invalid request body: %v", err)
	}
	return err
}

// write sends a response of the kit; a streaming one runs until it ends or
// the client is gone.
func write(c *gin.Context, resp *httpapi.Response) {
	maps.Copy(c.Writer.Header(), resp.Header)
	c.Status(resp.Status)
	c.Writer.WriteHeaderNow()
	if resp.Stream != nil {
		_ = resp.Stream(c.Request.Context(), c.Writer, http.NewResponseController(c.Writer).Flush)
		return
	}
	_, _ = c.Writer.Write(resp.Body)
}

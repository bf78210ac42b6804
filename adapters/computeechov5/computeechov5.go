// Package computeechov5 is the Echo v5 adapter of computemw: sandbox-per-
// request middleware, the prebuilt route group, and an HTTPErrorHandler that
// renders the kit's errors. The Echo v4 adapter is adapters/computeecho, with
// the same API.
//
//	import "github.com/computemw/kit/adapters/computeechov5"
//
//	kit, _ := computemw.New(computemw.Config{Providers: []computemw.Provider{prov}})
//	e := echo.NewWithConfig(echo.Config{HTTPErrorHandler: computeechov5.HTTPErrorHandler(kit, nil)})
//	computeechov5.Register(e.Group("/api"), kit)           // POST /api/execute, ...
//	e.POST("/mine", h, computeechov5.Middleware(kit))      // computeechov5.Sandbox(c) in h
//
// Errors follow Echo's rule: handlers and middleware return them, and the
// app's HTTPErrorHandler writes them. Install [HTTPErrorHandler] so that
// errors of the kit are written with its status, code and JSON body. The
// middleware returns a failure to create the sandbox as an *echo.HTTPError
// carrying the status and client-safe message and wrapping the kit's error
// (see [HTTPError]): Echo's DefaultHTTPErrorHandler(false) then still answers
// with the right status (and {"message": ...}), while [HTTPErrorHandler]
// renders the full contract from the wrapped error. Echo's
// DefaultHTTPErrorHandler(true) adds the wrapped error's own text to its
// answer, internal detail included: use it in development only.
package computeechov5

import (
	"context"
	"errors"
	"maps"
	"net/http"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/adapterkit"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"
)

// MiddlewareConfig configures [MiddlewareWithConfig].
type MiddlewareConfig struct {
	// Skipper skips sandbox creation for requests it returns true for;
	// they still get a request ID. Default: middleware.DefaultSkipper.
	Skipper middleware.Skipper
	// Provider names the provider of the request's sandbox; "" is the
	// kit's default.
	Provider string
	// Create configures the request's sandbox.
	Create computemw.CreateOptions
}

// DefaultMiddlewareConfig is the configuration of [Middleware].
var DefaultMiddlewareConfig = MiddlewareConfig{Skipper: middleware.DefaultSkipper}

// Middleware is [MiddlewareWithConfig] with [DefaultMiddlewareConfig].
func Middleware(kit *computemw.Kit) echo.MiddlewareFunc {
	return MiddlewareWithConfig(kit, DefaultMiddlewareConfig)
}

// MiddlewareWithConfig creates a sandbox before the next handler and
// destroys it after the handler returns — also when it returns an error,
// panics (under Echo's Recover middleware) or the client goes away. The
// handler reaches it with [Sandbox]. If the sandbox cannot be created, the
// middleware returns an *echo.HTTPError wrapping the kit's error (see the
// package documentation) and next is not called.
func MiddlewareWithConfig(kit *computemw.Kit, cfg MiddlewareConfig) echo.MiddlewareFunc {
	api := httpapi.New(kit)
	if cfg.Skipper == nil {
		cfg.Skipper = DefaultMiddlewareConfig.Skipper
	}
	opts := httpapi.MiddlewareOptions{Provider: cfg.Provider, Create: cfg.Create}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			r := c.Request()
			if cfg.Skipper(c) {
				ctx, _ := computemw.BeginRequest(r.Context(), r.Header)
				maps.Copy(c.Response().Header(), computemw.ResponseHeader(ctx))
				c.SetRequest(r.WithContext(ctx))
				return next(c)
			}
			ctx, release, err := api.EnterRequest(r.Context(), adapterkit.Request(r, nil, nil), opts)
			defer release()
			maps.Copy(c.Response().Header(), computemw.ResponseHeader(ctx))
			c.SetRequest(r.WithContext(ctx))
			if err != nil {
				return HTTPError(err)
			}
			return next(c)
		}
	}
}

// Admit admits the request's caller through the kit's policies
// (authentication, rate limits ...) for op, for a handler of the
// application's own that then calls kit.Execute, kit.Acquire or
// kit.CreateSession with the returned context. The kit's response headers
// (X-Request-ID, the rate limit's) are set, also on error; return the error.
func Admit(c *echo.Context, kit *computemw.Kit, op computemw.Op) (context.Context, error) {
	r := c.Request()
	ctx, err := kit.Admit(r.Context(), op, adapterkit.Request(r, nil, nil))
	maps.Copy(c.Response().Header(), computemw.ResponseHeader(ctx))
	c.SetRequest(r.WithContext(ctx))
	if err != nil {
		return ctx, HTTPError(err)
	}
	return ctx, nil
}

// Sandbox returns the request's sandbox created by the middleware, or nil.
// It is the Go form of Express's req.sandbox.
func Sandbox(c *echo.Context) computemw.Sandbox {
	return computemw.SandboxFrom(c.Request().Context())
}

// Router is the part of *echo.Echo and *echo.Group that [Register] needs.
type Router interface {
	Any(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) echo.RouteInfo
	GET(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) echo.RouteInfo
}

// Register adds the prebuilt route group, every route of [httpapi.API.Routes], to
// r at paths relative to it: /execute, /exec, /files, /health, /ready,
// /metrics, the /sandboxes session routes and their event stream. Each
// route is registered for every method, so that a wrong method gets the
// kit's 405 METHOD_NOT_ALLOWED. The routes write the kit's response
// themselves, errors included: they never return an error to Echo. It
// also adds the WebSocket endpoint GET /ws, served by the net/http
// adapterkit.WebSocket for same-origin clients; for other
// origins, add your own:
//
//	e.GET("/api/ws", echo.WrapHandler(adapterkit.WebSocket(kit, &websocket.AcceptOptions{...})))
//
// Like [echo.Echo.Any], Register panics if a route cannot be added.
//
// The extra endpoints a transport serves, eps (the MCP server's, say:
// computemcp's Server.Endpoint), are added at their paths for every
// method; their handlers get the request as net/http's, with Echo's
// flushing writer. Register panics on an endpoint the group cannot serve
// (see [httpapi.API.CheckEndpoints]).
func Register(r Router, kit *computemw.Kit, eps ...httpapi.Endpoint) {
	api := httpapi.New(kit)
	if err := api.CheckEndpoints(eps); err != nil {
		panic(err)
	}
	for _, e := range eps {
		r.Any(e.Path, echo.WrapHandler(e.Handler))
	}
	for _, rt := range api.Routes() {
		names := adapterkit.ParamNames(rt)
		r.Any(adapterkit.ColonPath(rt), func(c *echo.Context) error {
			hr := c.Request()
			req := adapterkit.Request(hr, names, c.Param)
			write(c, api.ServeRoute(hr.Context(), rt, req))
			return nil
		})
	}
	r.GET("/ws", echo.WrapHandler(adapterkit.WebSocket(kit, nil)))
	// Unknown paths of the group: the kit's JSON 404 (Echo prefers every
	// other route to this one, whatever the order).
	r.Any("/*", func(c *echo.Context) error {
		hr := c.Request()
		write(c, api.NotFound(hr.Context(), adapterkit.Request(hr, nil, nil)))
		return nil
	})
}

// HTTPError converts err into an *echo.HTTPError with the kit's status and
// client-safe message, wrapping the kit's error (errors.As finds it), for
// Echo's default error handler. An err that already carries a status for
// Echo (an *echo.HTTPError, echo.ErrNotFound and the other
// echo.HTTPStatusCoder errors) is returned as it is.
func HTTPError(err error) error {
	if err == nil || echo.StatusCode(err) != 0 {
		return err
	}
	status, msg := adapterkit.PublicError(err)
	return echo.HTTPError{Code: status, Message: msg}.Wrap(computemw.AsError(err))
}

// HTTPErrorHandler returns an echo.HTTPErrorHandler that writes every error
// holding a *computemw.Error (found with errors.As, also inside an
// *echo.HTTPError) with the kit's status, code and JSON body — the Go form
// of an Express error handler. Other errors go to next, or to Echo's
// DefaultHTTPErrorHandler(false) when next is nil. If the response was
// already committed, a kit error is logged instead.
func HTTPErrorHandler(kit *computemw.Kit, next echo.HTTPErrorHandler) echo.HTTPErrorHandler {
	api := httpapi.New(kit)
	if next == nil {
		next = echo.DefaultHTTPErrorHandler(false)
	}
	return func(c *echo.Context, err error) {
		var ke *computemw.Error
		if !errors.As(err, &ke) {
			next(c, err)
			return
		}
		// Render the kit's error, not the text of an HTTPError around it.
		if he, ok := err.(*echo.HTTPError); ok && he.Unwrap() != nil {
			err = he.Unwrap()
		}
		r := c.Request()
		ctx, _ := computemw.BeginRequest(r.Context(), r.Header)
		if resp, uerr := echo.UnwrapResponse(c.Response()); uerr == nil && resp.Committed {
			api.LogLateError(ctx, err)
			return
		}
		write(c, api.ErrorResponse(ctx, err, r.Header))
	}
}

// write sends a response of the kit; a streaming one runs until it ends or
// the client is gone.
func write(c *echo.Context, resp *httpapi.Response) {
	w := c.Response()
	maps.Copy(w.Header(), resp.Header)
	w.WriteHeader(resp.Status)
	if resp.Stream != nil {
		_ = resp.Stream(c.Request().Context(), w, flusher(w))
		return
	}
	_, _ = w.Write(resp.Body)
}

// flusher returns the flush of w. Echo's own Response panics where the
// writer under it cannot flush, so that writer is flushed instead: the
// Response buffers nothing of its own.
func flusher(w http.ResponseWriter) func() error {
	if r, ok := w.(*echo.Response); ok {
		w = r.ResponseWriter
	}
	return http.NewResponseController(w).Flush
}

// Package computefiberv3 is the Fiber v3 adapter of computemw: sandbox-per-
// request middleware, the prebuilt route group, and an ErrorHandler that
// renders the kit's errors. It is native fasthttp: only the extra
// endpoints a transport serves as an http.Handler (see [Register]) go
// through fasthttp's net/http adaptor.
// It has the API of the Fiber v2 adapter (adapters/computefiber) in Fiber
// v3's style (handlers take a fiber.Ctx):
//
//	import "github.com/computemw/kit/adapters/computefiberv3"
//
//	kit, _ := computemw.New(computemw.Config{Providers: []computemw.Provider{prov}})
//	app := fiber.New(fiber.Config{ErrorHandler: computefiberv3.ErrorHandler(kit)})
//	app.Use(recover.New())
//	computefiberv3.Register(app.Group("/api"), kit)          // POST /api/execute, ...
//	app.Post("/mine", computefiberv3.New(kit), h)            // computefiberv3.Sandbox(c) in h
//	app.Use(computefiberv3.NotFound(kit))                    // last: the kit's JSON 404
//
// Handlers return errors and the app's ErrorHandler writes them; install
// [ErrorHandler] so that errors of the kit get its status, code and JSON
// body. The middleware returns a failure to create the sandbox as an error
// that also holds a *fiber.Error, so that fiber.DefaultErrorHandler still
// answers with the right status and a client-safe message.
//
// Fiber reuses its Ctx and the strings it returns once the handler is done:
// the adapter copies the header values and path parameters it hands to the
// kit, and handlers must not keep the fiber.Ctx either. Use [Context] for a
// context.Context that carries the request's sandbox and ID. Fasthttp does
// not cancel a request when its client goes away, so a request's sandbox is
// destroyed when its handler returns (at the latest when the execution's
// timeout ends it), never earlier.
package computefiberv3

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/computemw/kit/adapters/internal/fasthttpnet"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/adapterkit"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/gofiber/fiber/v3"
	"github.com/valyala/fasthttp"
)

// Config configures [New].
type Config struct {
	// Next skips sandbox creation for requests it returns true for; they
	// still get a request ID. Default: nil (never skip).
	Next func(c fiber.Ctx) bool
	// Provider names the provider of the request's sandbox; "" is the
	// kit's default.
	Provider string
	// Create configures the request's sandbox.
	Create computemw.CreateOptions
}

// ConfigDefault is the configuration of New(kit).
var ConfigDefault = Config{}

// New returns the sandbox middleware: it creates a sandbox before the next
// handlers and destroys it after they return — also when one returns an
// error or panics (under Fiber's recover middleware). Handlers reach it with
// [Sandbox], and the request's context with [Context]. If the sandbox
// cannot be created, the middleware returns the kit's error (see [Error])
// and the next handlers are not called.
func New(kit *computemw.Kit, config ...Config) fiber.Handler {
	api := httpapi.New(kit)
	cfg := ConfigDefault
	if len(config) > 0 {
		cfg = config[0]
	}
	opts := httpapi.MiddlewareOptions{Provider: cfg.Provider, Create: cfg.Create}
	return func(c fiber.Ctx) error {
		if cfg.Next != nil && cfg.Next(c) {
			ctx, _ := computemw.BeginRequest(c.Context(), headerOf(c))
			enter(c, ctx)
			return c.Next()
		}
		ctx, release, err := api.EnterRequest(c.Context(), request(c), opts)
		defer release()
		enter(c, ctx)
		if err != nil {
			return Error(err)
		}
		return c.Next()
	}
}

// NotFound is the handler of unknown paths: the kit's JSON 404, as the
// route group's own answers. Fiber matches routes in the order they were
// added, so add it last: app.Use(computefiberv3.NotFound(kit)).
func NotFound(kit *computemw.Kit) fiber.Handler {
	api := httpapi.New(kit)
	return func(c fiber.Ctx) error {
		return write(c, api.NotFound(c.Context(), request(c)))
	}
}

// Admit admits the request's caller through the kit's policies
// (authentication, rate limits ...) for op, for a handler of the
// application's own that then calls kit.Execute, kit.Acquire or
// kit.CreateSession with the returned context. The kit's response headers
// (X-Request-ID, X-RateLimit-*) are set, also on error; return the error
// to have it rendered by [ErrorHandler].
func Admit(c fiber.Ctx, kit *computemw.Kit, op computemw.Op) (context.Context, error) {
	ctx, err := kit.Admit(c.Context(), op, request(c))
	enter(c, ctx)
	if err != nil {
		return ctx, Error(err)
	}
	return ctx, nil
}

// enter keeps the request's context, which carries its ID and sandbox, for
// the next handlers and sets the response headers the kit asks for
// (X-Request-ID, rate limits).
func enter(c fiber.Ctx, ctx context.Context) {
	setHeader(c, computemw.ResponseHeader(ctx))
	c.SetContext(ctx)
}

// Sandbox returns the request's sandbox created by [New], or nil. It is the
// Go form of Express's req.sandbox. It is read from [Context]: a handler
// that replaces the context with c.SetContext derives the new one from it.
func Sandbox(c fiber.Ctx) computemw.Sandbox { return computemw.SandboxFrom(c.Context()) }

// RequestID returns the request's ID assigned by [New] or [Admit], or "".
func RequestID(c fiber.Ctx) string { return computemw.RequestIDFrom(c.Context()) }

// Context returns the request's context: c.Context(), which [New] extends
// with the sandbox and the request ID. Pass it to the sandbox's methods;
// unlike the fiber.Ctx it may be kept after the handler returns. (A Fiber
// v3 Ctx is itself a context.Context, but not this one: its Value reads
// c.Locals, so it carries neither the sandbox nor the request ID.)
func Context(c fiber.Ctx) context.Context { return c.Context() }

// Register adds the prebuilt route group, every route of [httpapi.API.Routes], to
// router at paths relative to it: /execute, /exec, /files, /health, /ready,
// /metrics, the /sandboxes session routes and their event stream. Each
// route is registered for every method, so that a wrong method gets the
// kit's 405 METHOD_NOT_ALLOWED. The routes write the kit's response
// themselves, errors included. It also adds the WebSocket endpoint GET /ws
// for same-origin clients (see [WebSocket] for other origins).
//
// The extra endpoints a transport serves, eps (the MCP server's, say:
// computemcp's Server.Endpoint), are added at their paths for every
// method. Their handlers are net/http's: fasthttp's net/http adaptor
// (fasthttpadaptor) carries them, and it streams what the handler
// flushes, so Server-Sent Events arrive as they are written; the
// request's context answers the values of c.Context() (a principal your
// middleware set reaches the handler). Register panics on an endpoint the
// group cannot serve (see [httpapi.API.CheckEndpoints]).
func Register(router fiber.Router, kit *computemw.Kit, eps ...httpapi.Endpoint) {
	api := httpapi.New(kit)
	if err := api.CheckEndpoints(eps); err != nil {
		panic(err)
	}
	for _, e := range eps {
		h := e.Handler
		router.All(e.Path, func(c fiber.Ctx) error {
			fasthttpnet.Serve(c.RequestCtx(), h, c.Context())
			return nil
		})
	}
	for _, rt := range api.Routes() {
		names := adapterkit.ParamNames(rt)
		router.All(adapterkit.ColonPath(rt), func(c fiber.Ctx) error {
			req := &computemw.Request{
				Method: c.Method(),
				Path:   strings.Clone(c.Path()),
				Params: adapterkit.PathParams(names, func(n string) string {
					return strings.Clone(c.Params(n))
				}),
				Header: headerOf(c),
				// The raw body, never inflated (c.Body() would decode a
				// Content-Encoding without bound); the kit refuses an
				// encoded body. It reads it before the handler returns.
				Body:       rawBody(c.Request()),
				RawQuery:   string(c.Request().URI().QueryString()),
				RemoteAddr: c.RequestCtx().RemoteAddr().String(),
				Host:       string(c.Request().Host()),
			}
			return write(c, api.ServeRoute(c.Context(), rt, req))
		})
	}
	router.Get("/ws", WebSocket(kit, nil))
}

// kitError is a kit error that is also a *fiber.Error: errors.As finds
// either, and its text is the client-safe message.
type kitError struct {
	fe  *fiber.Error
	err *computemw.Error
}

func (e *kitError) Error() string   { return e.fe.Message }
func (e *kitError) Unwrap() []error { return []error{e.fe, e.err} }

// Error converts err into an error that fiber.DefaultErrorHandler answers
// with the kit's status and client-safe message, and that [ErrorHandler]
// renders with the kit's full JSON body. Return it from a handler when the
// app may not use [ErrorHandler].
func Error(err error) error {
	if w := (*kitError)(nil); err == nil || errors.As(err, &w) {
		return err
	}
	status, msg := adapterkit.PublicError(err)
	return &kitError{fe: &fiber.Error{Code: status, Message: msg}, err: computemw.AsError(err)}
}

// ErrorHandler returns a fiber.ErrorHandler that writes every error holding
// a *computemw.Error (found with errors.As) with the kit's status, code and
// JSON body — the Go form of an Express error handler. Fiber's own
// errors (a *fiber.Error such as the router's 404) go to
// fiber.DefaultErrorHandler. Any other error, a recovered panic included,
// is a 500 INTERNAL_ERROR whose cause is logged, not sent: fiber's default
// handler would send its text to the client.
func ErrorHandler(kit *computemw.Kit) fiber.ErrorHandler {
	api := httpapi.New(kit)
	return func(c fiber.Ctx, err error) error {
		var ke *computemw.Error
		var fe *fiber.Error
		if !errors.As(err, &ke) && errors.As(err, &fe) {
			return fiber.DefaultErrorHandler(c, err)
		}
		// Render the kit's error, not the text of a wrapper around it.
		if w := (*kitError)(nil); errors.As(err, &w) {
			err = w.err
		}
		h := headerOf(c)
		ctx, _ := computemw.BeginRequest(c.Context(), h)
		return write(c, api.ErrorResponse(ctx, err, h))
	}
}

// header is the kit's view of the request headers. Values are copied:
// fasthttp reuses its buffers once the handler returns. (It holds the
// fasthttp header rather than the fiber.Ctx, an interface, so that making
// it a computemw.Header does not allocate.)
type header struct{ h *fasthttp.RequestHeader }

func headerOf(c fiber.Ctx) header { return header{&c.Request().Header} }

func (h header) Get(key string) string { return string(h.h.Peek(key)) }

// Values returns every line of a repeated header (X-Forwarded-For behind
// several proxies), copied.
func (h header) Values(key string) []string {
	lines := h.h.PeekAll(key)
	out := make([]string, len(lines))
	for i, v := range lines {
		out[i] = string(v)
	}
	return out
}

// write sends a response of the kit. A streaming one is handed to fasthttp,
// which runs it after the handler has returned: it holds nothing of c, and
// it learns that the client is gone only when a write fails.
func write(c fiber.Ctx, resp *httpapi.Response) error {
	setHeader(c, resp.Header)
	c.Status(resp.Status)
	if stream := resp.Stream; stream != nil {
		if n, err := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64); err == nil && n >= 0 {
			// A download of known length: fasthttp sends it with its
			// Content-Length, reading what the stream writes; it closes the
			// reader when the client is gone, which ends the stream.
			pr, pw := io.Pipe()
			go func() { pw.CloseWithError(stream(context.Background(), pw, func() error { return nil })) }()
			return c.SendStream(pr, int(n))
		}
		return c.SendStreamWriter(func(w *bufio.Writer) {
			_ = stream(context.Background(), w, w.Flush)
		})
	}
	return c.Send(resp.Body)
}

// setHeader sets the response headers of src, replacing earlier values.
func setHeader(c fiber.Ctx, src http.Header) {
	h := &c.Response().Header
	for k, vs := range src {
		for i, v := range vs {
			if i == 0 {
				h.Set(k, v)
			} else {
				h.Add(k, v)
			}
		}
	}
}

// request is the kit's view of c's request, without its body.
func request(c fiber.Ctx) *computemw.Request {
	return &computemw.Request{Method: c.Method(), Header: headerOf(c), Host: string(c.Request().Host()),
		RemoteAddr: c.RequestCtx().RemoteAddr().String()}
}

// rawBody is the request's body as it arrives: streamed when the app
// streams request bodies (fiber.Config StreamRequestBody), so that an
// upload is copied into the sandbox without being held whole; else the
// bytes fasthttp has read (at most the app's BodyLimit).
func rawBody(r *fasthttp.Request) io.Reader {
	if r.IsBodyStream() {
		return r.BodyStream()
	}
	return bytes.NewReader(r.Body())
}

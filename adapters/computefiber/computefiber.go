// Package computefiber is the Fiber (v2) adapter of computemw: sandbox-per-
// request middleware, the prebuilt route group, and an ErrorHandler that
// renders the kit's errors. It is native fasthttp: only the extra
// endpoints a transport serves as an http.Handler (see [Register]) go
// through fasthttp's net/http adaptor.
//
//	kit, _ := computemw.New(computemw.Config{Providers: []computemw.Provider{prov}})
//	app := fiber.New(fiber.Config{ErrorHandler: computefiber.ErrorHandler(kit)})
//	app.Use(recover.New())
//	computefiber.Register(app.Group("/api"), kit)          // POST /api/execute, ...
//	app.Post("/mine", computefiber.New(kit), h)            // computefiber.Sandbox(c) in h
//
// Handlers return errors and the app's ErrorHandler writes them; install
// [ErrorHandler] so that errors of the kit get its status, code and JSON
// body. The middleware returns a failure to create the sandbox as an error
// that also holds a *fiber.Error, so that fiber.DefaultErrorHandler still
// answers with the right status and a client-safe message.
//
// Fiber reuses its Ctx and the strings it returns once the handler is done:
// the adapter copies the header values and path parameters it hands to the
// kit, and handlers must not keep the *fiber.Ctx either. Use [Context] for a
// context.Context that carries the request's sandbox and ID. Fasthttp does
// not cancel a request when its client goes away, so a request's sandbox is
// destroyed when its handler returns (at the latest when the execution's
// timeout ends it), never earlier.
package computefiber

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/computemw/kit/adapters/internal/fasthttpnet"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/adapterkit"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"
	"github.com/valyala/fasthttp"
)

// Config configures [New].
type Config struct {
	// Next skips sandbox creation for requests it returns true for; they
	// still get a request ID. Default: nil (never skip).
	Next func(c *fiber.Ctx) bool
	// Provider names the provider of the request's sandbox; "" is the
	// kit's default.
	Provider string
	// Create configures the request's sandbox.
	Create computemw.CreateOptions
}

// ConfigDefault is the configuration of New(kit).
var ConfigDefault = Config{}

type localKey int

const (
	sandboxKey localKey = iota
	requestIDKey
)

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
	return func(c *fiber.Ctx) error {
		if cfg.Next != nil && cfg.Next(c) {
			ctx, id := computemw.BeginRequest(c.UserContext(), header{c})
			enter(c, ctx, id)
			return c.Next()
		}
		ctx, release, err := api.EnterRequest(c.UserContext(), request(c), opts)
		id := computemw.RequestIDFrom(ctx)
		defer release()
		enter(c, ctx, id)
		if err != nil {
			return Error(err)
		}
		c.Locals(sandboxKey, computemw.SandboxFrom(ctx))
		return c.Next()
	}
}

// NotFound is the handler of unknown paths: the kit's JSON 404, as the
// route group's own answers. Fiber matches routes in the order they were
// added, so add it last: app.Use(computefiber.NotFound(kit)).
func NotFound(kit *computemw.Kit) fiber.Handler {
	api := httpapi.New(kit)
	return func(c *fiber.Ctx) error {
		return write(c, api.NotFound(c.UserContext(), request(c)))
	}
}

// Admit admits the request's caller through the kit's policies
// (authentication, rate limits ...) for op, for a handler of the
// application's own that then calls kit.Execute, kit.Acquire or
// kit.CreateSession with the returned context. The kit's response headers
// (X-Request-ID, X-RateLimit-*) are set, also on error; return the error
// to have it rendered by [ErrorHandler].
func Admit(c *fiber.Ctx, kit *computemw.Kit, op computemw.Op) (context.Context, error) {
	ctx, err := kit.Admit(c.UserContext(), op, request(c))
	enter(c, ctx, computemw.RequestIDFrom(ctx))
	if err != nil {
		return ctx, Error(err)
	}
	return ctx, nil
}

// enter keeps the request's context and ID for the next handlers and sets
// the response headers the kit asks for (X-Request-ID, rate limits).
func enter(c *fiber.Ctx, ctx context.Context, id string) {
	setHeader(c, computemw.ResponseHeader(ctx))
	c.SetUserContext(ctx)
	c.Locals(requestIDKey, id)
}

// Sandbox returns the request's sandbox created by [New], or nil. It is the
// Go form of Express's req.sandbox.
func Sandbox(c *fiber.Ctx) computemw.Sandbox {
	sb, _ := c.Locals(sandboxKey).(computemw.Sandbox)
	return sb
}

// RequestID returns the request's ID assigned by [New], or "".
func RequestID(c *fiber.Ctx) string {
	id, _ := c.Locals(requestIDKey).(string)
	return id
}

// Context returns the request's context: c.UserContext(), which [New]
// extends with the sandbox and the request ID. Pass it to the sandbox's
// methods; unlike the *fiber.Ctx it may be kept after the handler returns.
func Context(c *fiber.Ctx) context.Context { return c.UserContext() }

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
// request's context answers the values of c.UserContext() (a principal your
// middleware set reaches the handler). Register panics on an endpoint the
// group cannot serve (see [httpapi.API.CheckEndpoints]).
func Register(router fiber.Router, kit *computemw.Kit, eps ...httpapi.Endpoint) {
	api := httpapi.New(kit)
	if err := api.CheckEndpoints(eps); err != nil {
		panic(err)
	}
	for _, e := range eps {
		h := e.Handler
		router.All(e.Path, func(c *fiber.Ctx) error {
			fasthttpnet.Serve(c.Context(), h, c.UserContext())
			return nil
		})
	}
	for _, rt := range api.Routes() {
		names := adapterkit.ParamNames(rt)
		router.All(adapterkit.ColonPath(rt), func(c *fiber.Ctx) error {
			req := &computemw.Request{
				Method: c.Method(),
				Path:   utils.CopyString(c.Path()),
				Params: adapterkit.PathParams(names, func(n string) string {
					return utils.CopyString(c.Params(n))
				}),
				Header: header{c},
				// The raw body, never inflated (c.Body() would decode a
				// Content-Encoding without bound); the kit refuses an
				// encoded body. It reads it before the handler returns.
				Body:       rawBody(c.Request()),
				RawQuery:   string(c.Request().URI().QueryString()),
				RemoteAddr: c.Context().RemoteAddr().String(),
				Host:       string(c.Request().Host()),
			}
			return write(c, api.ServeRoute(c.UserContext(), rt, req))
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
	return func(c *fiber.Ctx, err error) error {
		var ke *computemw.Error
		var fe *fiber.Error
		if !errors.As(err, &ke) && errors.As(err, &fe) {
			return fiber.DefaultErrorHandler(c, err)
		}
		// Render the kit's error, not the text of a wrapper around it.
		if w := (*kitError)(nil); errors.As(err, &w) {
			err = w.err
		}
		ctx, _ := computemw.BeginRequest(c.UserContext(), header{c})
		return write(c, api.ErrorResponse(ctx, err, header{c}))
	}
}

// header is the kit's view of the request headers. Values are copied:
// fasthttp reuses its buffers once the handler returns.
type header struct{ c *fiber.Ctx }

func (h header) Get(key string) string { return utils.CopyString(h.c.Get(key)) }

// Values returns every line of a repeated header (X-Forwarded-For behind
// several proxies), copied.
func (h header) Values(key string) []string {
	lines := h.c.Request().Header.PeekAll(key)
	out := make([]string, len(lines))
	for i, v := range lines {
		out[i] = string(v)
	}
	return out
}

// write sends a response of the kit. A streaming one is handed to fasthttp,
// which runs it after the handler has returned: it holds nothing of c, and
// it learns that the client is gone only when a write fails.
func write(c *fiber.Ctx, resp *httpapi.Response) error {
	setHeader(c, resp.Header)
	c.Status(resp.Status)
	if stream := resp.Stream; stream != nil {
		if n, err := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64); err == nil && n >= 0 {
			// A download of known length: fasthttp sends it with its
			// Content-Length, reading what the stream writes; it closes the
			// reader when the client is gone, which ends the stream.
			pr, pw := io.Pipe()
			go func() { pw.CloseWithError(stream(context.Background(), pw, func() error { return nil })) }()
			c.Context().SetBodyStream(pr, int(n))
			return nil
		}
		c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
			_ = stream(context.Background(), w, w.Flush)
		})
		return nil
	}
	return c.Send(resp.Body)
}

// setHeader sets the response headers of src, replacing earlier values.
func setHeader(c *fiber.Ctx, src http.Header) {
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
func request(c *fiber.Ctx) *computemw.Request {
	return &computemw.Request{Method: c.Method(), Header: header{c}, Host: string(c.Request().Host()),
		RemoteAddr: c.Context().RemoteAddr().String()}
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

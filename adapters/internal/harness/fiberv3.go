package harness

// The Fiber v3 app. In this file fiber and computefiberv3 are the v3
// packages, as a user of Fiber v3 imports them.

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/computemw/kit/adapters/computefiberv3"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/gofiber/fiber/v3"
	fiberrecover "github.com/gofiber/fiber/v3/middleware/recover"
	"github.com/valyala/fasthttp"
)

// FiberV3App is the Fiber v3 app, with computefiberv3.ErrorHandler (of
// adapters/computefiberv3) as its error handler unless errorHandler is given. It
// serves the same routes as [FiberApp].
func FiberV3App(kit *computemw.Kit, errorHandler ...fiber.ErrorHandler) *fiber.App {
	return FiberV3AppWith(kit, nil, nil, errorHandler...)
}

// FiberV3AppWith is [FiberV3App] with the extra endpoints eps in its route
// group and the routes extra adds (when not nil), registered before the
// handler of unknown paths.
func FiberV3AppWith(kit *computemw.Kit, eps []httpapi.Endpoint, extra func(*fiber.App), errorHandler ...fiber.ErrorHandler) *fiber.App {
	cfg := fiber.Config{ErrorHandler: computefiberv3.ErrorHandler(kit)}
	if len(errorHandler) > 0 {
		cfg.ErrorHandler = errorHandler[0]
	}
	app := fiber.New(cfg)
	app.Use(fiberrecover.New())
	computefiberv3.Register(app.Group(computemwtest.Prefix), kit, eps...)
	mw := computefiberv3.New(kit)
	app.Get(computemwtest.SandboxPath, mw, func(c fiber.Ctx) error {
		if computefiberv3.Sandbox(c) == nil {
			return c.Status(http.StatusInternalServerError).SendString("no sandbox")
		}
		return c.JSON(computemwtest.SandboxInfoFor(computefiberv3.Context(c)))
	})
	app.Post(computemwtest.RunPath, mw, func(c fiber.Ctx) error {
		// The raw body: c.Body() would inflate a Content-Encoding.
		res, err := computemwtest.RunInRequest(computefiberv3.Context(c), bytes.NewReader(c.BodyRaw()))
		if err != nil {
			return err
		}
		return c.JSON(res)
	})
	app.Get(computemwtest.PanicPath, mw, func(fiber.Ctx) error { panic("handler panic") })
	app.Get(computemwtest.ErrorPath, mw, func(fiber.Ctx) error { return computemwtest.SuiteError() })
	bare := func(needSandbox bool) fiber.Handler {
		return func(c fiber.Ctx) error {
			if needSandbox && computefiberv3.Sandbox(c) == nil {
				return c.Status(http.StatusInternalServerError).SendString("no sandbox")
			}
			return c.JSON(ok)
		}
	}
	app.Get(BarePath, bare(false))
	app.Get(MiddlewarePath, mw, bare(true))
	app.Post(BareExecPath, func(c fiber.Ctx) error {
		var req httpapi.ExecRequest
		if err := c.Bind().Body(&req); err != nil {
			return err
		}
		return c.JSON(bareExec(&req))
	})
	if extra != nil {
		extra(app)
	}
	app.Use(computefiberv3.NotFound(kit))
	return app
}

// FiberV3 serves the Fiber v3 app (see [FiberV3App]) on fasthttp; it is a
// computemwtest.Harness Start.
func FiberV3(t *testing.T, kit *computemw.Kit) string { return ServeFiberV3(t, FiberV3App(kit)) }

// ServeFiberV3 serves a Fiber v3 app with app.Listener on a loopback
// listener and shuts it down at cleanup.
func ServeFiberV3(t *testing.T, app *fiber.App) string {
	ln := listen(t)
	// As for v2 (see ServeFiber): Fiber v3 has no setting of its own for
	// the worker pool's idle time, so set it on its fasthttp server.
	app.Server().MaxIdleWorkerDuration = 50 * time.Millisecond
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = app.Listener(ln, fiber.ListenConfig{DisableStartupMessage: true})
	}()
	t.Cleanup(func() {
		http.DefaultClient.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := app.ShutdownWithContext(ctx); err != nil {
			t.Errorf("fiber shutdown: %v", err)
		}
		ln.Close() // in case Listener had not started serving yet
		<-done
	})
	return "http://" + ln.Addr().String()
}

// BenchFiberV3 is [BenchFiber] for a Fiber v3 app.
func BenchFiberV3(b *testing.B, app *fiber.App, method, path, body string) {
	var req fasthttp.Request
	req.Header.SetMethod(method)
	req.SetRequestURI(path)
	if body != "" {
		req.Header.SetContentType("application/json")
		req.SetBodyString(body)
	}
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}, nil)
	h := app.Handler()
	serve := func() {
		h(&ctx)
		if code := ctx.Response.StatusCode(); code != http.StatusOK {
			b.Fatalf("%s %s: %d %s", method, path, code, ctx.Response.Body())
		}
		// What fasthttp's server resets between two requests of a
		// connection.
		ctx.Response.Reset()
		ctx.ResetUserValues()
	}
	for range warmup {
		serve()
	}
	b.ReportAllocs()
	for b.Loop() {
		serve()
	}
}

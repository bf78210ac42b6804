// Package harness builds, for the adapter tests and benchmarks, one app per
// framework the way a user of that framework would: the prebuilt route
// group under computemwtest.Prefix, the suite's routes behind the adapter's
// middleware, the framework's recover middleware and the adapter's error
// handler. NetHTTP, Gin, Echo and Fiber serve such an app on a real
// loopback listener and are computemwtest.Harness Start functions.
//
// Every app also has the benchmark routes: BarePath and BareExecPath are
// plain handlers of the framework with no kit, MiddlewarePath is the same
// handler as BarePath behind the sandbox middleware, so that the
// middleware's overhead is measured against the same router.
package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"testing"
	"time"

	computeecho "github.com/computemw/kit/adapters/computeecho"
	computefiber "github.com/computemw/kit/adapters/computefiber"
	computegin "github.com/computemw/kit/adapters/computegin"
	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/gin-gonic/gin"
	"github.com/gofiber/fiber/v2"
	fiberrecover "github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/labstack/echo/v4"
	echomw "github.com/labstack/echo/v4/middleware"
)

// The benchmark routes of every app.
const (
	// BarePath is a GET route with a plain handler answering 200 {"ok":true}.
	BarePath = "/bench/bare"
	// MiddlewarePath is BarePath's handler behind the sandbox middleware; it
	// answers 500 if the handler sees no sandbox.
	MiddlewarePath = "/bench/mw"
	// BareExecPath is a POST route with a plain handler that decodes an
	// exec request and answers an execution response, like POST /exec.
	BareExecPath = "/bench/exec"
)

func init() { gin.SetMode(gin.TestMode) }

// bareExec is what the BareExecPath handlers answer.
func bareExec(req *httpapi.ExecRequest) httpapi.ExecutionResponse {
	return httpapi.ExecutionResponse{Success: req.Command != "", SandboxID: "bare-1", Provider: "fake"}
}

var ok = map[string]bool{"ok": true}

// NetHTTPHandler is the net/http app.
func NetHTTPHandler(kit *computemw.Kit) http.Handler {
	mux := http.NewServeMux()
	computehttp.Mount(mux, computemwtest.Prefix, kit)
	mw := computehttp.Middleware(kit)
	mux.Handle("GET "+computemwtest.SandboxPath, mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if computehttp.Sandbox(r) == nil {
			http.Error(w, "no sandbox", http.StatusInternalServerError)
			return
		}
		writeJSON(w, computemwtest.SandboxInfoFor(r.Context()))
	})))
	mux.Handle("POST "+computemwtest.RunPath, mw(computehttp.Handle(kit, func(w http.ResponseWriter, r *http.Request) error {
		res, err := computemwtest.RunInRequest(r.Context(), r.Body)
		if err != nil {
			return err
		}
		writeJSON(w, res)
		return nil
	})))
	mux.Handle("GET "+computemwtest.PanicPath, mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("handler panic")
	})))
	mux.Handle("GET "+computemwtest.ErrorPath, mw(computehttp.Handle(kit, func(http.ResponseWriter, *http.Request) error {
		return computemwtest.SuiteError()
	})))
	bare := func(needSandbox bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if needSandbox && computehttp.Sandbox(r) == nil {
				http.Error(w, "no sandbox", http.StatusInternalServerError)
				return
			}
			writeJSON(w, ok)
		}
	}
	mux.HandleFunc("GET "+BarePath, bare(false))
	mux.Handle("GET "+MiddlewarePath, mw(bare(true)))
	mux.HandleFunc("POST "+BareExecPath, func(w http.ResponseWriter, r *http.Request) {
		var req httpapi.ExecRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		writeJSON(w, bareExec(&req))
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// GinEngine is the Gin app.
func GinEngine(kit *computemw.Kit) *gin.Engine {
	r := gin.New()
	r.Use(gin.RecoveryWithWriter(io.Discard), computegin.ErrorHandler(kit))
	computegin.Register(r.Group(computemwtest.Prefix), kit)
	mw := computegin.Middleware(kit)
	r.GET(computemwtest.SandboxPath, mw, func(c *gin.Context) {
		if computegin.Sandbox(c) == nil {
			c.String(http.StatusInternalServerError, "no sandbox")
			return
		}
		c.JSON(http.StatusOK, computemwtest.SandboxInfoFor(c.Request.Context()))
	})
	r.POST(computemwtest.RunPath, mw, func(c *gin.Context) {
		res, err := computemwtest.RunInRequest(c.Request.Context(), c.Request.Body)
		if err != nil {
			_ = c.Error(err)
			return
		}
		c.JSON(http.StatusOK, res)
	})
	r.GET(computemwtest.PanicPath, mw, func(*gin.Context) { panic("handler panic") })
	r.GET(computemwtest.ErrorPath, mw, func(c *gin.Context) { _ = c.Error(computemwtest.SuiteError()) })
	bare := func(needSandbox bool) gin.HandlerFunc {
		return func(c *gin.Context) {
			if needSandbox && computegin.Sandbox(c) == nil {
				c.String(http.StatusInternalServerError, "no sandbox")
				return
			}
			c.JSON(http.StatusOK, ok)
		}
	}
	r.GET(BarePath, bare(false))
	r.GET(MiddlewarePath, mw, bare(true))
	r.POST(BareExecPath, func(c *gin.Context) {
		var req httpapi.ExecRequest
		if err := c.ShouldBindJSON(&req); err != nil {
			c.String(http.StatusBadRequest, err.Error())
			return
		}
		c.JSON(http.StatusOK, bareExec(&req))
	})
	r.NoRoute(computegin.NotFound(kit))
	return r
}

// EchoApp is the Echo app.
func EchoApp(kit *computemw.Kit) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Logger.SetOutput(io.Discard)
	e.HTTPErrorHandler = computeecho.HTTPErrorHandler(kit, nil)
	e.Use(echomw.RecoverWithConfig(echomw.RecoverConfig{DisablePrintStack: true}))
	computeecho.Register(e.Group(computemwtest.Prefix), kit)
	mw := computeecho.Middleware(kit)
	e.GET(computemwtest.SandboxPath, func(c echo.Context) error {
		if computeecho.Sandbox(c) == nil {
			return c.String(http.StatusInternalServerError, "no sandbox")
		}
		return c.JSON(http.StatusOK, computemwtest.SandboxInfoFor(c.Request().Context()))
	}, mw)
	e.POST(computemwtest.RunPath, func(c echo.Context) error {
		res, err := computemwtest.RunInRequest(c.Request().Context(), c.Request().Body)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, res)
	}, mw)
	e.GET(computemwtest.PanicPath, func(echo.Context) error { panic("handler panic") }, mw)
	e.GET(computemwtest.ErrorPath, func(echo.Context) error { return computemwtest.SuiteError() }, mw)
	bare := func(needSandbox bool) echo.HandlerFunc {
		return func(c echo.Context) error {
			if needSandbox && computeecho.Sandbox(c) == nil {
				return c.String(http.StatusInternalServerError, "no sandbox")
			}
			return c.JSON(http.StatusOK, ok)
		}
	}
	e.GET(BarePath, bare(false))
	e.GET(MiddlewarePath, bare(true), mw)
	e.POST(BareExecPath, func(c echo.Context) error {
		var req httpapi.ExecRequest
		if err := c.Bind(&req); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, bareExec(&req))
	})
	return e
}

// FiberApp is the Fiber app, with computefiber.ErrorHandler as its error
// handler unless errorHandler is given.
func FiberApp(kit *computemw.Kit, errorHandler ...fiber.ErrorHandler) *fiber.App {
	return FiberAppWith(kit, nil, errorHandler...)
}

// FiberAppWith is [FiberApp] with the routes extra adds (when not nil),
// registered before the handler of unknown paths, which Fiber would
// otherwise run first.
func FiberAppWith(kit *computemw.Kit, extra func(*fiber.App), errorHandler ...fiber.ErrorHandler) *fiber.App {
	cfg := fiber.Config{DisableStartupMessage: true, ErrorHandler: computefiber.ErrorHandler(kit)}
	if len(errorHandler) > 0 {
		cfg.ErrorHandler = errorHandler[0]
	}
	app := fiber.New(cfg)
	app.Use(fiberrecover.New())
	computefiber.Register(app.Group(computemwtest.Prefix), kit)
	mw := computefiber.New(kit)
	app.Get(computemwtest.SandboxPath, mw, func(c *fiber.Ctx) error {
		if computefiber.Sandbox(c) == nil {
			return c.Status(http.StatusInternalServerError).SendString("no sandbox")
		}
		return c.JSON(computemwtest.SandboxInfoFor(computefiber.Context(c)))
	})
	app.Post(computemwtest.RunPath, mw, func(c *fiber.Ctx) error {
		res, err := computemwtest.RunInRequest(computefiber.Context(c), bytes.NewReader(c.Request().Body()))
		if err != nil {
			return err
		}
		return c.JSON(res)
	})
	app.Get(computemwtest.PanicPath, mw, func(*fiber.Ctx) error { panic("handler panic") })
	app.Get(computemwtest.ErrorPath, mw, func(*fiber.Ctx) error { return computemwtest.SuiteError() })
	bare := func(needSandbox bool) fiber.Handler {
		return func(c *fiber.Ctx) error {
			if needSandbox && computefiber.Sandbox(c) == nil {
				return c.Status(http.StatusInternalServerError).SendString("no sandbox")
			}
			return c.JSON(ok)
		}
	}
	app.Get(BarePath, bare(false))
	app.Get(MiddlewarePath, mw, bare(true))
	app.Post(BareExecPath, func(c *fiber.Ctx) error {
		var req httpapi.ExecRequest
		if err := c.BodyParser(&req); err != nil {
			return err
		}
		return c.JSON(bareExec(&req))
	})
	if extra != nil {
		extra(app)
	}
	app.Use(computefiber.NotFound(kit))
	return app
}

// NetHTTP serves the net/http app; it is a computemwtest.Harness Start.
func NetHTTP(t *testing.T, kit *computemw.Kit) string { return ServeHTTP(t, NetHTTPHandler(kit)) }

// Gin serves the Gin app on an http.Server, as Gin's Run does.
func Gin(t *testing.T, kit *computemw.Kit) string { return ServeHTTP(t, GinEngine(kit)) }

// Echo serves the Echo app on an http.Server, as Echo's Start does.
func Echo(t *testing.T, kit *computemw.Kit) string { return ServeHTTP(t, EchoApp(kit)) }

// Fiber serves the Fiber app (see [FiberApp]) on fasthttp.
func Fiber(t *testing.T, kit *computemw.Kit) string { return ServeFiber(t, FiberApp(kit)) }

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// ServeHTTP serves h on an http.Server on a loopback listener and closes
// it at cleanup.
func ServeHTTP(t *testing.T, h http.Handler) string {
	ln := listen(t)
	srv := &http.Server{Handler: h, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Close()
		http.DefaultClient.CloseIdleConnections()
	})
	return "http://" + ln.Addr().String()
}

// ServeFiber serves app with app.Listener on a loopback listener and shuts
// it down at cleanup.
func ServeFiber(t *testing.T, app *fiber.App) string {
	ln := listen(t)
	// The worker pool's cleaner checks for shutdown once per
	// MaxIdleWorkerDuration (10s by default): keep it short so that the
	// goroutine leak check sees it gone.
	app.Server().MaxIdleWorkerDuration = 50 * time.Millisecond
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = app.Listener(ln)
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

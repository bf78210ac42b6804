// Command echo is the Echo starter of computemw: the prebuilt route group,
// a sandbox-per-request middleware on a custom group, a global error handler,
// and a route whose body is validated like a Fastify-style schema, on the
// embedded local provider.
//
//	go run ./examples/echo
//	curl -s localhost:8080/api/execute -H 'Content-Type: application/json' -d '{"language":"python","code":"print(2+2)"}'
package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	computeecho "github.com/computemw/kit/adapters/computeecho"
	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/computemw/kit/computemw/prommetrics"
	"github.com/computemw/kit/jobs"
	"github.com/computemw/kit/providers/local"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

func main() {
	if err := run(); err != nil {
		slog.Error("computemw example", "error", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	prov, err := local.FromEnv()
	if err != nil {
		return err
	}
	// Prometheus metrics: served at /api/metrics by the route group.
	metrics := prommetrics.New(prommetrics.Options{})
	kit, err := computemw.New(computemw.Config{
		Providers: []computemw.Provider{prov},
		Metrics:   metrics,
		// No authentication here: answer only the names this server is
		// reached by, so that a DNS-rebound web page cannot use it, and
		// WebSocket pages of those names only.
		AllowedHosts: allowedHosts(),
	})
	if err != nil {
		return err
	}
	// Jobs: POST /api/jobs queues an execution and answers at once with
	// its id; GET /api/jobs/{id} reads its verdict and result. The memory
	// queue serves one instance (see docs/jobs.md for PostgreSQL).
	jobService, err := jobs.New(ctx, kit, jobs.Config{})
	if err != nil {
		return err
	}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	// A global error handler: errors that handlers return are
	// written with the kit's status and code (408 TIMEOUT, 507 ...); other
	// errors go to Echo's default handler.
	e.HTTPErrorHandler = computeecho.HTTPErrorHandler(kit, nil)
	e.Use(middleware.Recover())

	// The prebuilt route group: POST /api/execute, /api/exec, /api/files,
	// GET /api/health, /api/ready, /api/metrics, and the /api/sandboxes
	// sessions.
	computeecho.Register(e.Group("/api"), kit)
	// Prometheus metrics at the root too, where scrapers look: the route
	// group's own net/http handler (which answers /metrics only here), so
	// that the same host check and policies as /api/metrics apply.
	e.GET("/metrics", echo.WrapHandler(computehttp.Handler(kit)))

	// A Fastify-style route: the body is validated before any sandbox
	// is created, then a sandbox runs the code and is destroyed.
	e.POST("/execute", func(c echo.Context) error {
		body, err := validate(c.Request().Body, kit.Config().MaxBodyBytes)
		if err != nil {
			return err
		}
		// The kit's governed path: policies, a sandbox of its own,
		// metrics, the execution log.
		ctx, err := computeecho.Admit(c, kit, computemw.OpExecute)
		if err != nil {
			return err
		}
		res, err := kit.Execute(ctx, computemw.Run{Provider: body.Provider, Language: body.Language, Code: body.Code})
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, echo.Map{"success": res.ExitCode == 0, "output": res.Stdout})
	})

	// A sandbox-per-request middleware: requests of the /api/compute group get
	// their own sandbox, reachable with computeecho.Sandbox(c). It is set on
	// the routes rather than with Group.Use, which would also run it (and
	// create a sandbox) for paths of the group that match no route.
	compute := e.Group("/api/compute")
	sandbox := computeecho.Middleware(kit)
	compute.POST("/python", func(c echo.Context) error {
		var body struct {
			Code string `json:"code"`
		}
		if err := httpapi.DecodeJSON(c.Request().Body, kit.Config().MaxBodyBytes, &body); err != nil {
			return err
		}
		res, err := computeecho.Sandbox(c).RunCode(c.Request().Context(), "python", body.Code, computemw.ExecOptions{})
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, echo.Map{"stdout": res.Stdout, "stderr": res.Stderr, "exitCode": res.ExitCode})
	}, sandbox)

	addr := os.Getenv("ADDR")
	if addr == "" {
		port := os.Getenv("PORT")
		if port == "" {
			port = "8080"
		}
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	e.Listener, err = net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	e.Server.ReadHeaderTimeout = 10 * time.Second
	errc := make(chan error, 1)
	go func() { errc <- e.Start("") }()
	slog.Info("computemw example ready", "url", "http://"+e.Listener.Addr().String(), "framework", "echo", "provider", prov.Name())

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	slog.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = e.Shutdown(sctx)
	return errors.Join(err, jobService.Close(sctx), kit.Close(sctx))
}

// executeBody is the body of POST /execute.
type executeBody struct {
	Code     string `json:"code"`
	Language string `json:"language"`
	Provider string `json:"provider"`
}

// validate reads and checks an executeBody like a Fastify-style schema
// (an object; code and language required; all strings): anything else is a
// 400 BAD_REQUEST.
func validate(r io.Reader, limit int64) (executeBody, error) {
	var b executeBody
	if err := httpapi.DecodeJSON(r, limit, &b); err != nil {
		return b, err
	}
	for _, f := range []struct{ name, value string }{{"code", b.Code}, {"language", b.Language}} {
		if f.value == "" {
			return b, computemw.Errorf(computemw.CodeBadRequest, "body must have required property %q", f.name)
		}
	}
	return b, nil
}

// allowedHosts are the Host names the server answers: COMPUTEMW_HOSTS
// (comma-separated), else the loopback names. Set it when exposing the
// server (after adding authentication: see examples/secure).
func allowedHosts() []string {
	if v := os.Getenv("COMPUTEMW_HOSTS"); v != "" {
		return strings.Split(v, ",")
	}
	return []string{"127.0.0.1", "localhost", "::1"}
}

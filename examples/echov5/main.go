// Command echov5 is the Echo v5 starter of computemw: the prebuilt route
// group, a sandbox-per-request middleware on a custom group, a global error
// handler, and a route whose body is validated like the API guide's Fastify
// schema, on the embedded local provider.
//
//	go run ./examples/echov5
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

	"github.com/computemw/kit/adapters/computeechov5"
	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/computemw/kit/computemw/prommetrics"
	"github.com/computemw/kit/jobs"
	"github.com/computemw/kit/providers/local"
	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"
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

	e := echo.NewWithConfig(echo.Config{
		Logger: slog.Default(),
		// A global error handler: errors that handlers return are
		// written with the kit's status and code (408 TIMEOUT, 507 ...);
		// other errors go to Echo's default handler.
		HTTPErrorHandler: computeechov5.HTTPErrorHandler(kit, nil),
	})
	e.Use(middleware.Recover())

	// The prebuilt route group: POST /api/execute, /api/exec, /api/files,
	// GET /api/health, /api/ready, /api/metrics, and the /api/sandboxes
	// sessions.
	computeechov5.Register(e.Group("/api"), kit)
	// Prometheus metrics at the root too, where scrapers look: the route
	// group's own net/http handler (which answers /metrics only here), so
	// that the same host check and policies as /api/metrics apply.
	e.GET("/metrics", echo.WrapHandler(computehttp.Handler(kit)))

	// A Fastify-style route: the body is validated before any sandbox
	// is created, then a sandbox runs the code and is destroyed.
	e.POST("/execute", func(c *echo.Context) error {
		body, err := validate(c.Request().Body, kit.Config().MaxBodyBytes)
		if err != nil {
			return err
		}
		// The kit's governed path: policies, a sandbox of its own,
		// metrics, the execution log.
		ctx, err := computeechov5.Admit(c, kit, computemw.OpExecute)
		if err != nil {
			return err
		}
		res, err := kit.Execute(ctx, computemw.Run{Provider: body.Provider, Language: body.Language, Code: body.Code})
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]any{"success": res.ExitCode == 0, "output": res.Stdout})
	})

	// A sandbox-per-request middleware: requests of the /api/compute group get
	// their own sandbox, reachable with computeechov5.Sandbox(c). It is set on
	// the routes rather than with Group.Use, which would also run it (and
	// create a sandbox) for paths of the group that match no route.
	compute := e.Group("/api/compute")
	sandbox := computeechov5.Middleware(kit)
	compute.POST("/python", func(c *echo.Context) error {
		var body struct {
			Code string `json:"code"`
		}
		if err := httpapi.DecodeJSON(c.Request().Body, kit.Config().MaxBodyBytes, &body); err != nil {
			return err
		}
		res, err := computeechov5.Sandbox(c).RunCode(c.Request().Context(), "python", body.Code, computemw.ExecOptions{})
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]any{"stdout": res.Stdout, "stderr": res.Stderr, "exitCode": res.ExitCode})
	}, sandbox)

	addr := os.Getenv("ADDR")
	if addr == "" {
		port := os.Getenv("PORT")
		if port == "" {
			port = "8080"
		}
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	var shutdownErr error
	sc := echo.StartConfig{
		Listener:   ln,
		HideBanner: true,
		HidePort:   true,
		// On SIGINT/SIGTERM (ctx), Start shuts the server down gracefully.
		GracefulTimeout: 30 * time.Second,
		OnShutdownError: func(err error) { shutdownErr = err },
		// StartConfig's server reads a request (headers and body) for
		// at most 30s and sets no WriteTimeout, which would cut event
		// streams; headers get 10s here.
		BeforeServeFunc: func(s *http.Server) error {
			s.ReadHeaderTimeout = 10 * time.Second
			return nil
		},
	}
	errc := make(chan error, 1)
	go func() { errc <- sc.Start(ctx, e) }()
	slog.Info("computemw example ready", "url", "http://"+ln.Addr().String(), "framework", "echo/v5", "provider", prov.Name())

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	slog.Info("shutting down")
	// Start returns once the server is shut down.
	err = <-errc
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return errors.Join(err, shutdownErr, jobService.Close(sctx), kit.Close(sctx))
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

// Command gin is the Gin starter of computemw: the prebuilt route group,
// a sandbox-per-request middleware on a custom group, a global error handler,
// and a route whose body is validated like a Fastify-style schema, on the
// embedded local provider.
//
//	go run ./examples/gin
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

	computegin "github.com/computemw/kit/adapters/computegin"
	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/computemw/kit/computemw/prommetrics"
	"github.com/computemw/kit/jobs"
	"github.com/computemw/kit/providers/local"
	"github.com/gin-gonic/gin"
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

	if os.Getenv(gin.EnvGinMode) == "" {
		gin.SetMode(gin.ReleaseMode)
	}
	r := gin.New()
	// A global error handler: errors pushed with c.Error are
	// written with the kit's status and code (408 TIMEOUT, 507 ...).
	r.Use(gin.Recovery(), computegin.ErrorHandler(kit))

	// The prebuilt route group: POST /api/execute, /api/exec, /api/files,
	// GET /api/health, /api/ready, /api/metrics, and the /api/sandboxes
	// sessions.
	computegin.Register(r.Group("/api"), kit)
	// Unknown paths get the kit's JSON 404, like the route group's answers.
	r.NoRoute(computegin.NotFound(kit))
	// Prometheus metrics at the root too, where scrapers look: the route
	// group's own net/http handler (which answers /metrics only here), so
	// that the same host check and policies as /api/metrics apply.
	r.GET("/metrics", gin.WrapH(computehttp.Handler(kit)))

	// A Fastify-style route: the body is validated before any sandbox
	// is created, then a sandbox runs the code and is destroyed.
	r.POST("/execute", func(c *gin.Context) {
		body, err := validate(c.Request.Body, kit.Config().MaxBodyBytes)
		if err != nil {
			_ = c.Error(err)
			return
		}
		// The kit's governed path: policies, a sandbox of its own,
		// metrics, the execution log.
		ctx, err := computegin.Admit(c, kit, computemw.OpExecute)
		if err != nil {
			_ = c.Error(err)
			return
		}
		res, err := kit.Execute(ctx, computemw.Run{Provider: body.Provider, Language: body.Language, Code: body.Code})
		if err != nil {
			_ = c.Error(err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"success": res.ExitCode == 0, "output": res.Stdout})
	})

	// A sandbox-per-request middleware: every request of the /api/compute
	// group gets its own sandbox, reachable with computegin.Sandbox(c).
	compute := r.Group("/api/compute", computegin.Middleware(kit))
	compute.POST("/python", func(c *gin.Context) {
		var body struct {
			Code string `json:"code"`
		}
		if err := httpapi.DecodeJSON(c.Request.Body, kit.Config().MaxBodyBytes, &body); err != nil {
			_ = c.Error(err)
			return
		}
		res, err := computegin.Sandbox(c).RunCode(c.Request.Context(), "python", body.Code, computemw.ExecOptions{})
		if err != nil {
			_ = c.Error(err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"stdout": res.Stdout, "stderr": res.Stderr, "exitCode": res.ExitCode})
	})

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
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	slog.Info("computemw example ready", "url", "http://"+ln.Addr().String(), "framework", "gin", "provider", prov.Name())

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	slog.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
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

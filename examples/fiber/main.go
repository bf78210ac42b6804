// Command fiber is the Fiber starter of computemw: the prebuilt route group,
// a sandbox-per-request middleware on a custom group, a global error handler,
// and a route whose body is validated like a Fastify-style schema, on the
// embedded local provider. Fiber runs on fasthttp, not net/http.
//
//	go run ./examples/fiber
//	curl -s localhost:8080/api/execute -H 'Content-Type: application/json' -d '{"language":"python","code":"print(2+2)"}'
package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	computefiber "github.com/computemw/kit/adapters/computefiber"
	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/computemw/kit/computemw/prommetrics"
	"github.com/computemw/kit/jobs"
	"github.com/computemw/kit/providers/local"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/recover"
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

	app := fiber.New(fiber.Config{
		DisableStartupMessage: true,
		ReadTimeout:           time.Minute,
		IdleTimeout:           time.Minute,
		// A global error handler: errors that handlers return are
		// written with the kit's status and code (408 TIMEOUT, 507 ...);
		// other errors go to fiber.DefaultErrorHandler.
		ErrorHandler: computefiber.ErrorHandler(kit),
	})
	app.Use(recover.New())

	// The prebuilt route group: POST /api/execute, /api/exec, /api/files,
	// GET /api/health, /api/ready, /api/metrics, and the /api/sandboxes
	// sessions.
	computefiber.Register(app.Group("/api"), kit)
	// Prometheus metrics at the root too, where scrapers look: the route
	// group's own net/http handler (which answers /metrics only here),
	// through Fiber's adaptor, so that the same host check and policies
	// as /api/metrics apply.
	app.Get("/metrics", adaptor.HTTPHandler(computehttp.Handler(kit)))

	// A Fastify-style route: the body is validated before any sandbox
	// is created, then a sandbox runs the code and is destroyed.
	app.Post("/execute", func(c *fiber.Ctx) error {
		body, err := validate(bytes.NewReader(c.Request().Body()), kit.Config().MaxBodyBytes) // raw: c.Body() would inflate a compressed body without bound
		if err != nil {
			return err
		}
		// The kit's governed path: policies, a sandbox of its own,
		// metrics, the execution log.
		ctx, err := computefiber.Admit(c, kit, computemw.OpExecute)
		if err != nil {
			return err
		}
		res, err := kit.Execute(ctx, computemw.Run{Provider: body.Provider, Language: body.Language, Code: body.Code})
		if err != nil {
			return err
		}
		return c.JSON(fiber.Map{"success": res.ExitCode == 0, "output": res.Stdout})
	})

	// A sandbox-per-request middleware: requests of the /api/compute group get
	// their own sandbox, reachable with computefiber.Sandbox(c). It is set
	// on the routes rather than on the group, which would also run it (and
	// create a sandbox) for paths of the group that match no route.
	compute := app.Group("/api/compute")
	compute.Post("/python", computefiber.New(kit), func(c *fiber.Ctx) error {
		var body struct {
			Code string `json:"code"`
		}
		if err := httpapi.DecodeJSON(bytes.NewReader(c.Request().Body()), kit.Config().MaxBodyBytes, &body); err != nil {
			return err
		}
		res, err := computefiber.Sandbox(c).RunCode(computefiber.Context(c), "python", body.Code, computemw.ExecOptions{})
		if err != nil {
			return err
		}
		return c.JSON(fiber.Map{"stdout": res.Stdout, "stderr": res.Stderr, "exitCode": res.ExitCode})
	})

	// Last: unknown paths get the kit's JSON 404 (Fiber matches in order).
	app.Use(computefiber.NotFound(kit))

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
	errc := make(chan error, 1)
	go func() { errc <- app.Listener(ln) }()
	slog.Info("computemw example ready", "url", "http://"+ln.Addr().String(), "framework", "fiber", "provider", prov.Name())

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	slog.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = app.ShutdownWithContext(sctx)
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

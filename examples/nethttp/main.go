// Command nethttp is the net/http starter of computemw: an Express-style
// quick start, the prebuilt route group, a sandbox-per-request middleware
// and a global error handler, on the embedded local provider — or on E2B
// or Daytona when E2B_API_KEY or DAYTONA_API_KEY is set, on Vercel
// Sandbox when VERCEL_TOKEN is set (with VERCEL_TEAM_ID and
// VERCEL_PROJECT_ID; VERCEL_API_URL overrides the API's URL), on Modal
// when MODAL_TOKEN_ID is set, or on Cloudflare Sandbox when
// CLOUDFLARE_SANDBOX_URL (and CLOUDFLARE_SANDBOX_API_KEY) is.
//
//	go run ./examples/nethttp
//	curl -s localhost:8080/api/execute -H 'Content-Type: application/json' -d '{"language":"python","code":"print(2+2)"}'
package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/computemw/kit/computemw/prommetrics"
	"github.com/computemw/kit/jobs"
	"github.com/computemw/kit/providers/cloudflare"
	"github.com/computemw/kit/providers/daytona"
	"github.com/computemw/kit/providers/e2b"
	"github.com/computemw/kit/providers/local"
	"github.com/computemw/kit/providers/modal"
	"github.com/computemw/kit/providers/vercel"
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

	prov, err := provider()
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

	mux := http.NewServeMux()

	// The prebuilt route group: POST /api/execute, /api/exec, /api/files,
	// GET /api/health, /api/ready, /api/metrics.
	computehttp.Mount(mux, "/api", kit)
	// Prometheus metrics at the root too, where scrapers look: the route
	// group's own handler, so that the same host check and policies as
	// /api/metrics apply.
	mux.Handle("GET /metrics", computehttp.Handler(kit))

	// The quick start: a sandbox per request, destroyed when done.
	mux.Handle("POST /execute", computehttp.Handle(kit, func(w http.ResponseWriter, r *http.Request) error {
		var body struct {
			Command string `json:"command"`
		}
		if err := httpapi.DecodeJSON(r.Body, 1<<20, &body); err != nil {
			return err
		}
		if body.Command == "" {
			return computemw.Errorf(computemw.CodeBadRequest, "field %q is required", "command")
		}
		// The kit's governed path, as the prebuilt routes take it:
		// policies, a sandbox of its own, metrics, the execution log.
		ctx, err := computehttp.Admit(w, r, kit, computemw.OpExec)
		if err != nil {
			return err
		}
		res, err := kit.Execute(ctx, computemw.Run{Command: body.Command})
		if err != nil {
			return err
		}
		return writeJSON(w, map[string]any{"output": res.Stdout, "success": res.ExitCode == 0})
	}))

	// A sandbox-per-request middleware: every request under /api/compute/ gets
	// its own sandbox, reachable with computehttp.Sandbox(r).
	compute := computehttp.Middleware(kit)
	mux.Handle("POST /api/compute/python", compute(computehttp.Handle(kit, func(w http.ResponseWriter, r *http.Request) error {
		var body struct {
			Code string `json:"code"`
		}
		if err := httpapi.DecodeJSON(r.Body, 1<<20, &body); err != nil {
			return err
		}
		res, err := computehttp.Sandbox(r).RunCode(r.Context(), "python", body.Code, computemw.ExecOptions{})
		if err != nil {
			return err // rendered by the kit: 408 TIMEOUT, 507 RESOURCE_ERROR, ...
		}
		return writeJSON(w, map[string]any{"stdout": res.Stdout, "stderr": res.Stderr, "exitCode": res.ExitCode})
	})))

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
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	slog.Info("computemw example ready", "url", "http://"+ln.Addr().String(), "provider", prov.Name())

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

func writeJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(v)
}

// provider is where code runs: the first remote provider whose
// credentials are in the environment, in this order — E2B (E2B_API_KEY),
// Daytona (DAYTONA_API_KEY), Vercel Sandbox (VERCEL_TOKEN), Modal
// (MODAL_TOKEN_ID), Cloudflare Sandbox (CLOUDFLARE_SANDBOX_URL, its bridge
// Worker) — configured by that package's FromEnv, else this host's
// sandboxes.
func provider() (computemw.Provider, error) {
	switch {
	case os.Getenv("E2B_API_KEY") != "":
		return e2b.FromEnv()
	case os.Getenv("DAYTONA_API_KEY") != "":
		return daytona.FromEnv()
	case os.Getenv(vercel.EnvToken) != "":
		return vercel.FromEnv()
	case os.Getenv("MODAL_TOKEN_ID") != "":
		return modal.FromEnv()
	case os.Getenv(cloudflare.EnvURL) != "":
		return cloudflare.FromEnv()
	}
	return local.FromEnv()
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

// Command websocket serves the kit's WebSocket protocol and a small page
// that uses it: type a command, watch its output arrive as it is produced,
// or open a terminal. The sandbox lives as long as the page's connection.
//
//	go run ./examples/websocket     # then open http://127.0.0.1:8080/
package main

import (
	"context"
	"embed"
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
	"github.com/computemw/kit/computemw/prommetrics"
	"github.com/computemw/kit/providers/local"
)

//go:embed index.html
var page embed.FS

func main() {
	if err := run(); err != nil {
		slog.Error("computemw websocket example", "error", err)
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
	mux := http.NewServeMux()
	computehttp.Mount(mux, "/api", kit) // includes GET /api/ws
	// The metrics at the root too, where scrapers look: through the route
	// group's own handler, so that the host check of /api/metrics applies.
	mux.Handle("GET /metrics", computehttp.Handler(kit))
	mux.Handle("GET /{$}", http.FileServerFS(page))

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
	// WebSocket connections are hijacked: Shutdown does not wait for them,
	// so closing the kit is what ends them (and destroys their sandboxes).
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	slog.Info("computemw websocket example ready", "url", "http://"+ln.Addr().String()+"/")

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	return errors.Join(err, kit.Close(sctx))
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

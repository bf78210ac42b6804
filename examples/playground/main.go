// Command playground serves a page to try the kit in a browser, on the
// local provider: a code editor with a language picker fed by GET
// /api/languages, Run with live output and stdin over the WebSocket
// protocol, a terminal (xterm.js), and a file explorer on a session sandbox.
//
//	make playground                 # installs xterm.js, then runs it
//	go run ./examples/playground    # then open http://127.0.0.1:8080/
//
// Environment: PORT (8080) or ADDR; COMPUTEMW_HOSTS, the Host names served
// (default the loopback names); PLAYGROUND_API_KEY, a key the page must
// send (then every route but /health and /ready needs it, /metrics too); PLAYGROUND_TIMEOUT,
// an execution's time limit (Go duration, default 10s); PLAYGROUND_XTERM,
// the node_modules directory holding @xterm/xterm (default: the nearest
// .cache/node-playground/node_modules above the working directory);
// PLAYGROUND_SWAGGER_UI, the node_modules directory holding
// swagger-ui-dist for the API page at /docs (default: the nearest
// .cache/node-swagger-ui/node_modules).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/auth"
	"github.com/computemw/kit/computemw/prommetrics"
	"github.com/computemw/kit/providers/local"
)

func main() {
	if err := run(); err != nil {
		slog.Error("computemw playground", "error", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	timeout := 10 * time.Second
	if v := os.Getenv("PLAYGROUND_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("PLAYGROUND_TIMEOUT %q: want a positive duration such as 10s", v)
		}
		timeout = d
	}
	prov, err := local.FromEnv()
	if err != nil {
		return err
	}
	cfg := computemw.Config{
		Providers:      []computemw.Provider{prov},
		Metrics:        prommetrics.New(prommetrics.Options{}),
		DefaultTimeout: timeout,
		// Answer only the names this server is reached by, so that a
		// DNS-rebound page cannot use it, and WebSockets of those pages.
		AllowedHosts: allowedHosts(),
	}
	if key := os.Getenv("PLAYGROUND_API_KEY"); key != "" {
		authn, err := auth.New(auth.Config{APIKeys: map[string]computemw.Principal{
			auth.HashAPIKey(key): {ID: "playground", Role: "developer"},
		}})
		if err != nil {
			return err
		}
		cfg.Policies = append(cfg.Policies, authn)
	}
	kit, err := computemw.New(cfg)
	if err != nil {
		return err
	}
	xterm := os.Getenv("PLAYGROUND_XTERM")
	if xterm == "" {
		xterm = findNodeModules()
	} else if !hasXterm(xterm) {
		xterm = ""
	}
	if xterm == "" {
		slog.Warn("computemw playground: xterm.js is not installed, the page's terminal is off; run 'make setup-playground'")
	}

	ln, err := net.Listen("tcp", listenAddr())
	if err != nil {
		return err
	}
	swaggerUI := os.Getenv("PLAYGROUND_SWAGGER_UI")
	if swaggerUI == "" {
		swaggerUI = findSwaggerUI()
	} else if !hasSwaggerUI(swaggerUI) {
		swaggerUI = ""
	}
	if swaggerUI == "" {
		slog.Warn("computemw playground: Swagger UI is not installed, the API page at /docs is off; run 'make setup-playground'")
	}

	srv := &http.Server{Handler: newHandler(kit, xterm, swaggerUI), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	slog.Info("computemw playground ready", "url", "http://"+ln.Addr().String()+"/")

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// WebSocket connections are hijacked: Shutdown does not wait for
	// them; closing the kit ends them and destroys every sandbox.
	err = srv.Shutdown(sctx)
	return errors.Join(err, kit.Close(sctx)) // Close also closes the provider
}

func listenAddr() string {
	if addr := os.Getenv("ADDR"); addr != "" {
		return addr
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	return net.JoinHostPort("127.0.0.1", port)
}

// allowedHosts are the Host names the server answers: COMPUTEMW_HOSTS
// (comma-separated), else the loopback names.
func allowedHosts() []string {
	if v := os.Getenv("COMPUTEMW_HOSTS"); v != "" {
		return strings.Split(v, ",")
	}
	return []string{"127.0.0.1", "localhost", "::1"}
}

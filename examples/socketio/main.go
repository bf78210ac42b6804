// Command socketio is the Socket.IO starter of computemw: clients of
// socket.io-client start a session, run code with its output streamed
// live and type into a terminal, on the embedded local provider; the
// prebuilt route group is beside it under /api.
//
//	go run ./examples/socketio
//
// From Node.js (npm install socket.io-client):
//
//	const socket = require('socket.io-client').io('http://127.0.0.1:8080', {auth: {token}})
//	socket.on('session-started', () => socket.emit('execute-code', {language: 'python', code: 'print(2+2)'}))
//	socket.on('execution-output', (m) => process.stdout.write(m.data))
//	socket.on('execution-result', (r) => { console.log(r.exitCode); socket.disconnect() })
//	socket.emit('start-session', {template: 'python'})
//
// Without COMPUTEMW_JWT_SECRET it has no authentication and serves
// loopback only; with it, clients send a JWT (HS256) as auth {token}.
package main

import (
	"context"
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
	"github.com/computemw/kit/computemw/auth"
	"github.com/computemw/kit/computemw/prommetrics"
	"github.com/computemw/kit/providers/local"
	computesocketio "github.com/computemw/kit/transports/computesocketio"
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
	policies, err := policies()
	if err != nil {
		return err
	}
	metrics := prommetrics.New(prommetrics.Options{})
	kit, err := computemw.New(computemw.Config{
		Providers: []computemw.Provider{prov},
		Metrics:   metrics,
		Policies:  policies,
		// Answer only the names this server is reached by, so that a
		// DNS-rebound page cannot use it; pages of those names only.
		AllowedHosts: allowedHosts(),
	})
	if err != nil {
		return err
	}

	// The Socket.IO endpoint at /socket.io/, where socket.io-client looks.
	sio := computesocketio.New(kit, computesocketio.Config{})
	mux := http.NewServeMux()
	mux.Handle(sio.Path(), sio.Handler())
	computehttp.Mount(mux, "/api", kit)
	// The metrics at the root too, where scrapers look: through the route
	// group's own handler, so that the JWT and the host check of
	// /api/metrics apply there too.
	mux.Handle("GET /metrics", computehttp.Handler(kit))

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
	slog.Info("computemw socket.io example ready", "url", "http://"+ln.Addr().String(), "path", sio.Path(),
		"authentication", len(policies) > 0)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	slog.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	// Sockets are not requests: disconnect them (destroying their
	// sessions), then close the kit.
	return errors.Join(err, sio.Close(sctx), kit.Close(sctx))
}

// policies authenticate JWTs signed with COMPUTEMW_JWT_SECRET (HS256) when
// it is set; clients send theirs as the handshake's auth {token}.
func policies() ([]computemw.Policy, error) {
	secret := os.Getenv("COMPUTEMW_JWT_SECRET")
	if secret == "" {
		return nil, nil
	}
	authn, err := auth.New(auth.Config{JWT: &auth.JWTConfig{Algorithms: []string{"HS256"},
		Keys: []auth.JWTKey{{Algorithm: "HS256", Key: []byte(secret)}}}})
	if err != nil {
		return nil, err
	}
	return []computemw.Policy{authn}, nil
}

// allowedHosts are the Host names the server answers: COMPUTEMW_HOSTS
// (comma-separated), else the loopback names.
func allowedHosts() []string {
	if v := os.Getenv("COMPUTEMW_HOSTS"); v != "" {
		return strings.Split(v, ",")
	}
	return []string{"127.0.0.1", "localhost", "::1"}
}

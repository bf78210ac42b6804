// Command kubernetes is the starter that examples/kubernetes/*.yaml
// deploys: the kit's route group on net/http, with sandboxes that are
// agent-sandbox SandboxClaims on a warm pool, and sessions in Redis, so
// that every replica of the Deployment serves every session.
//
// Configuration (environment):
//
//	COMPUTEMW_K8S_WARM_POOL   the SandboxWarmPool to claim from (required)
//	COMPUTEMW_K8S_NAMESPACE   where claims are made (default: the pod's)
//	COMPUTEMW_K8S_ROUTER_URL  the sandbox router's URL
//	KUBECONFIG                outside a cluster, the kubeconfig to use
//	REDIS_ADDR                the shared session store (host:port)
//	POD_NAME                  this replica's name, on the claims it makes
//	PORT                      the port to listen on (default 8080)
package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/prommetrics"
	"github.com/computemw/kit/providers/kubernetes"
	"github.com/computemw/kit/stores/redisstore"
)

func main() {
	if err := run(); err != nil {
		slog.Error("computemw kubernetes starter", "error", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	prov, err := kubernetes.New(kubernetes.Options{
		WarmPool:   os.Getenv("COMPUTEMW_K8S_WARM_POOL"),
		Namespace:  os.Getenv("COMPUTEMW_K8S_NAMESPACE"),
		RouterURL:  os.Getenv("COMPUTEMW_K8S_ROUTER_URL"),
		Kubeconfig: os.Getenv("KUBECONFIG"),
		Instance:   os.Getenv("POD_NAME"),
	})
	if err != nil {
		return err
	}
	cfg := computemw.Config{
		Providers:  []computemw.Provider{prov},
		Metrics:    prommetrics.New(prommetrics.Options{}),
		InstanceID: os.Getenv("POD_NAME"),
	}
	if addr := os.Getenv("REDIS_ADDR"); addr != "" {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		defer rdb.Close()
		cfg.SessionStore = redisstore.NewSessionStore(rdb, "computemw:")
	}
	kit, err := computemw.New(cfg)
	if err != nil {
		return err
	}

	// Claims a replica left when it died mid-create: any replica reaps them.
	go func() {
		tick := time.NewTicker(5 * time.Minute)
		defer tick.Stop()
		for {
			if n, err := prov.Reap(ctx); err != nil {
				slog.Warn("reaping orphan claims", "error", err)
			} else if n > 0 {
				slog.Info("reaped orphan claims", "count", n)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()

	// POST /api/execute, /api/exec, /api/files, /api/sandboxes..., the
	// WebSocket at /api/ws; GET /api/health is the readiness probe.
	mux := http.NewServeMux()
	computehttp.Mount(mux, "/api", kit)
	mux.Handle("GET /metrics", computehttp.Handler(kit))

	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("", port))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	slog.Info("computemw kubernetes starter ready", "addr", ln.Addr().String(), "namespace", prov.Namespace())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return errors.Join(srv.Shutdown(sctx), kit.Close(sctx))
}

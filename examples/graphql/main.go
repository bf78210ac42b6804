// Command graphql is the GraphQL starter of computemw: queries, mutations
// and sessions over POST /graphql, execution output streamed by a
// subscription over the same path's WebSocket (graphql-transport-ws), on
// the embedded local provider, beside the prebuilt route group.
//
//	go run ./examples/graphql
//	curl -s localhost:8080/graphql -H 'Content-Type: application/json' \
//	  -d '{"query":"mutation { executeCode(language: \"python\", code: \"print(2+2)\") { output exitCode } }"}'
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

	"github.com/99designs/gqlgen/graphql/playground"

	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/prommetrics"
	"github.com/computemw/kit/providers/local"
	"github.com/computemw/kit/transports/graphql"
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
	metrics := prommetrics.New(prommetrics.Options{})
	kit, err := computemw.New(computemw.Config{
		Providers: []computemw.Provider{prov},
		Metrics:   metrics,
		// No authentication here: answer only the names this server is
		// reached by, so that a DNS-rebound web page cannot use it, and
		// WebSocket pages of those names only. With authentication, the
		// kit's policies (Config.Policies) govern every GraphQL field.
		AllowedHosts: allowedHosts(),
	})
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	// POST /graphql for queries and mutations; GET /graphql upgrades to
	// the WebSocket of subscriptions. The defaults bound what a document
	// may cost before it runs (MaxTokens, MaxBodyBytes, MaxComplexity) and
	// what a WebSocket may hold (MaxOperationsPerConn, MaxPendingConns,
	// InitTimeout); each document is admitted by the kit's policies before
	// it is parsed.
	mux.Handle("/graphql", graphql.New(kit, graphql.Options{}))
	// GraphiQL, to try the schema in a browser: gqlgen's page, which loads
	// GraphiQL from jsDelivr at pinned versions with integrity hashes
	// (nothing of it is served from here). Leave it out in production.
	mux.Handle("GET /graphiql", playground.Handler("computemw GraphQL", "/graphql"))
	// The prebuilt route group beside it, and the metrics at the root
	// too, where scrapers look: through the route group's own handler, so
	// that the same host check and policies as /api/metrics apply.
	computehttp.Mount(mux, "/api", kit)
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
	slog.Info("computemw GraphQL example ready", "url", "http://"+ln.Addr().String()+"/graphql", "provider", prov.Name())

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	slog.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Shutdown does not wait for hijacked WebSocket connections: closing
	// the kit ends their executions and destroys every sandbox left.
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

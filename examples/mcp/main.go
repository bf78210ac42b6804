// Command mcp is the MCP starter of computemw: a Model Context Protocol
// server (streamable HTTP) at /api/mcp that an agent framework points at,
// with tools to run code and commands, read, write and list files, and
// open a sandbox that lives as long as the agent's MCP session — beside
// the prebuilt route group under /api, on the embedded local provider.
//
//	go run ./examples/mcp
//	# then point an MCP client at http://127.0.0.1:8080/api/mcp, or:
//	npx @modelcontextprotocol/inspector   # transport "Streamable HTTP"
//
// Without COMPUTEMW_JWT_SECRET it has no authentication and serves
// loopback only (it refuses to start on another address). With it,
// every MCP request, route (health and ready aside) and both metrics paths
// need a JWT signed with it (HS256) as Authorization: Bearer; a request
// without one gets 401 whose WWW-Authenticate names the protected-resource
// metadata at /.well-known/oauth-protected-resource/api/mcp, where
// COMPUTEMW_AUTH_SERVERS (comma-separated issuer URLs) are published.
package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
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
	"github.com/computemw/kit/transports/computemcp"
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

	addr := os.Getenv("ADDR")
	if addr == "" {
		port := os.Getenv("PORT")
		if port == "" {
			port = "8080"
		}
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	policies, err := policies()
	if err != nil {
		return err
	}
	if len(policies) == 0 && !loopback(addr) {
		return errors.New("COMPUTEMW_JWT_SECRET is not set: refusing to run code for anyone beyond loopback")
	}

	prov, err := local.FromEnv()
	if err != nil {
		return err
	}
	kit, err := computemw.New(computemw.Config{
		Providers: []computemw.Provider{prov},
		Metrics:   prommetrics.New(prommetrics.Options{}),
		Policies:  policies,
		// Answer only the names this server is reached by, so that a
		// DNS-rebound web page cannot use it.
		AllowedHosts: allowedHosts(),
	})
	if err != nil {
		return err
	}

	// The MCP endpoint. The defaults bound what an agent may hold: 1 MiB
	// messages, 256 KiB of code, 8 MCP sessions per caller (256 in all),
	// one sandbox per session within the kit's session limits, and a
	// session idle for 10 minutes is closed with its sandbox.
	mcp := computemcp.New(kit, computemcp.Options{AuthorizationServers: authServers()})
	mux := http.NewServeMux()
	computehttp.Mount(mux, "/api", kit)
	mux.Handle("/api/mcp", mcp)
	// The protected-resource metadata (RFC 9728), at the root of the
	// host where MCP clients look for it after a 401.
	mux.Handle("GET "+computemcp.MetadataPath("/api/mcp"), mcp.Metadata())
	mux.Handle("GET /metrics", computehttp.Handler(kit))

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	slog.Info("computemw MCP example ready", "url", "http://"+ln.Addr().String()+"/api/mcp",
		"provider", prov.Name(), "auth", len(policies) > 0)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	slog.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Ending the MCP sessions first stops their calls, so that Shutdown
	// does not wait on a program's time limit; their sandboxes go too.
	err = mcp.Close(sctx)
	return errors.Join(err, srv.Shutdown(sctx), kit.Close(sctx))
}

// policies authenticate JWTs signed with COMPUTEMW_JWT_SECRET (HS256) when
// it is set; without it there are none.
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

// authServers are the issuers published in the protected-resource
// metadata: COMPUTEMW_AUTH_SERVERS, comma-separated.
func authServers() []string {
	if v := os.Getenv("COMPUTEMW_AUTH_SERVERS"); v != "" {
		return strings.Split(v, ",")
	}
	return nil
}

// allowedHosts are the Host names the server answers: COMPUTEMW_HOSTS
// (comma-separated), else the loopback names.
func allowedHosts() []string {
	if v := os.Getenv("COMPUTEMW_HOSTS"); v != "" {
		return strings.Split(v, ",")
	}
	return []string{"127.0.0.1", "localhost", "::1"}
}

// loopback reports whether addr listens on a loopback address only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// Command secure is the protected starter of computemw: the API guide's
// "Authentication and Authorization" and "Rate Limiting and Quotas" on one
// net/http server with the embedded local provider — JWT bearer tokens
// (and an API key for a metrics scraper), role-based access control,
// tiered rate limits and usage quotas, with Prometheus metrics.
//
// Try it:
//
//	export COMPUTEMW_JWT_SECRET=$(openssl rand -hex 32)
//	go run ./examples/secure &
//	TOKEN=$(go run ./examples/secure/mint -sub alice -role user -plan free)
//
//	# 401 with a WWW-Authenticate challenge: no token
//	curl -si localhost:8080/api/execute -H 'Content-Type: application/json' -d '{"language":"python","code":"print(2+2)"}'
//	# 200, with RateLimit-Limit/Remaining/Reset/Policy headers
//	curl -si localhost:8080/api/execute -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
//	     -d '{"language":"python","code":"print(2+2)"}'
//	# the caller's own usage and limits in the current period
//	curl -s localhost:8080/api/usage -H "Authorization: Bearer $TOKEN"
//	# 403: a viewer may not run code
//	curl -si localhost:8080/api/exec -H 'Content-Type: application/json' -d '{"command":"id"}' \
//	     -H "Authorization: Bearer $(go run ./examples/secure/mint -sub vic -role viewer)"
//	# past the free tier's 10 requests per 15 minutes: 429 with Retry-After
//
// Configuration, from the environment:
//
//	COMPUTEMW_JWT_SECRET        HS256 secret, at least 32 bytes. Without it the
//	                            server listens on loopback only, with a public
//	                            development secret, and says so loudly; on any
//	                            other address it refuses to start.
//	COMPUTEMW_RATE_FREE         free-tier requests per 15 minutes (default 10;
//	                            pro 100, enterprise 1000)
//	COMPUTEMW_QUOTA_DB          SQLite file that keeps usage across restarts
//	                            (default: in memory)
//	COMPUTEMW_REDIS_URL         redis://host:6379/0: rate limits and quotas
//	                            shared by every instance (overrides the above)
//	COMPUTEMW_TRUSTED_PROXIES   CIDRs whose X-Forwarded-For is believed
//	COMPUTEMW_METRICS_API_KEY   API key a Prometheus scraper sends
//	                            (Authorization: ApiKey <key>) for /metrics
//	COMPUTEMW_HOSTS             the Host names served, comma-separated
//	                            (default the loopback names); others get 403
//	PORT, ADDR                  listen on 127.0.0.1:$PORT (8080), or on $ADDR
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"

	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/auth"
	"github.com/computemw/kit/computemw/prommetrics"
	"github.com/computemw/kit/computemw/quota"
	"github.com/computemw/kit/computemw/ratelimit"
	"github.com/computemw/kit/computemw/rbac"
	"github.com/computemw/kit/providers/local"
	"github.com/computemw/kit/stores/redisstore"
	"github.com/computemw/kit/stores/sqlitestore"
)

// The token contract shared with the mint command.
const (
	issuer   = "computemw-example"
	audience = "computemw"
	// devSecret is for local development only: anyone can mint tokens with
	// it. The server says so loudly when it uses it.
	devSecret = "computemw-development-secret-do-not-use-in-production"
)

func main() {
	if err := run(); err != nil {
		slog.Error("computemw secure example", "error", err)
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
	policies, closeStores, err := protections(ctx, loopback(addr))
	if err != nil {
		return err
	}
	defer closeStores()

	prov, err := local.FromEnv()
	if err != nil {
		return err
	}
	kit, err := computemw.New(computemw.Config{
		Providers: []computemw.Provider{prov},
		Policies:  policies,
		Metrics:   prommetrics.New(prommetrics.Options{}),
		// Answer only the names this server is reached by: a request
		// naming another Host is refused with 403 before any policy.
		AllowedHosts: allowedHosts(),
	})
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	// The route group, every route behind the policies: POST /api/execute,
	// /api/exec, /api/files, /api/sandboxes..., GET /api/usage,
	// /api/metrics; /api/health and /api/ready stay public.
	computehttp.Mount(mux, "/api", kit)
	// Metrics at the root too, through the same policies: a scraper
	// authenticates with its API key.
	mux.Handle("GET /metrics", computehttp.Handler(kit))

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	slog.Info("computemw secure example ready", "url", "http://"+ln.Addr().String(), "provider", prov.Name())

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	slog.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	return errors.Join(err, kit.Close(sctx))
}

// protections builds the policies, in order — authentication, RBAC, rate
// limits, quotas. The returned function closes the stores.
func protections(ctx context.Context, onLoopback bool) ([]computemw.Policy, func(), error) {
	secret := os.Getenv("COMPUTEMW_JWT_SECRET")
	if secret == "" && !onLoopback {
		return nil, nil, errors.New("COMPUTEMW_JWT_SECRET is not set: refusing to serve beyond loopback with the public development secret")
	}
	if secret == "" {
		secret = devSecret
		slog.Warn("!!! COMPUTEMW_JWT_SECRET is not set: using the DEVELOPMENT secret, with which anyone can mint tokens. " +
			"Set COMPUTEMW_JWT_SECRET to a random secret of at least 32 bytes before exposing this server. !!!")
	}
	apiKeys := map[string]computemw.Principal{}
	if key := os.Getenv("COMPUTEMW_METRICS_API_KEY"); key != "" {
		apiKeys[auth.HashAPIKey(key)] = computemw.Principal{ID: "metrics-scraper", Role: "monitor", Plan: "enterprise"}
	}
	authn, err := auth.New(auth.Config{
		JWT: &auth.JWTConfig{
			Algorithms: []string{"HS256"},
			Keys:       []auth.JWTKey{{Algorithm: "HS256", Key: []byte(secret)}},
			Issuer:     issuer,
			Audience:   audience,
			Leeway:     30 * time.Second,
		},
		APIKeys: apiKeys,
	})
	if err != nil {
		return nil, nil, err
	}
	roles, err := rbac.New(rbac.Config{DefaultRole: "user"})
	if err != nil {
		return nil, nil, err
	}

	tiers := ratelimit.DefaultTiers()
	if v := os.Getenv("COMPUTEMW_RATE_FREE"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return nil, nil, fmt.Errorf("COMPUTEMW_RATE_FREE=%q: want a positive number", v)
		}
		tiers["free"] = limiter.Rate{Period: tiers["free"].Period, Limit: n}
	}
	var trusted []netip.Prefix
	for _, s := range strings.FieldsFunc(os.Getenv("COMPUTEMW_TRUSTED_PROXIES"), func(r rune) bool { return r == ',' || r == ' ' }) {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, nil, fmt.Errorf("COMPUTEMW_TRUSTED_PROXIES: %w", err)
		}
		trusted = append(trusted, p)
	}

	rateStore, quotaStore, closeStores, err := stores(ctx)
	if err != nil {
		return nil, nil, err
	}
	rl, err := ratelimit.New(ratelimit.Config{Tiers: tiers, Store: rateStore, TrustedProxies: trusted})
	if err != nil {
		closeStores()
		return nil, nil, err
	}
	// The quota is a policy (it reserves executions) and hooks (it records
	// what they measured): the kit registers it as both.
	q, err := quota.New(quota.Config{Store: quotaStore})
	if err != nil {
		closeStores()
		return nil, nil, err
	}
	return []computemw.Policy{authn, roles, rl, q}, closeStores, nil
}

// stores picks where rate limits and usage live: Redis for several
// instances, else memory for the rate limits and SQLite (or memory) for
// usage.
func stores(ctx context.Context) (limiter.Store, quota.Store, func(), error) {
	if u := os.Getenv("COMPUTEMW_REDIS_URL"); u != "" {
		opts, err := redis.ParseURL(u)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("COMPUTEMW_REDIS_URL: %w", err)
		}
		rdb := redis.NewClient(opts)
		rates, err := redisstore.NewRateStore(ctx, rdb, "computemw:rate")
		if err != nil {
			rdb.Close()
			return nil, nil, nil, err
		}
		slog.Info("rate limits and quotas in Redis", "addr", opts.Addr)
		return rates, redisstore.New(rdb, "computemw:quota"), func() { rdb.Close() }, nil
	}
	if path := os.Getenv("COMPUTEMW_QUOTA_DB"); path != "" {
		db, err := sqlitestore.Open(path)
		if err != nil {
			return nil, nil, nil, err
		}
		slog.Info("usage kept in SQLite", "path", path)
		return nil, db, func() { closeLogged(db) }, nil
	}
	slog.Info("rate limits and usage in memory: set COMPUTEMW_QUOTA_DB or COMPUTEMW_REDIS_URL to keep usage across restarts")
	return nil, nil, func() {}, nil
}

func closeLogged(c io.Closer) {
	if err := c.Close(); err != nil {
		slog.Error("closing the usage store", "error", err)
	}
}

// allowedHosts are the Host names the server answers: COMPUTEMW_HOSTS
// (comma-separated), else the loopback names.
func allowedHosts() []string {
	if v := os.Getenv("COMPUTEMW_HOSTS"); v != "" {
		return strings.Split(v, ",")
	}
	return []string{"127.0.0.1", "localhost", "::1"}
}

// loopback reports whether addr (host:port) listens on loopback only.
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

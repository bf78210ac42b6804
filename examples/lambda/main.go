// Command lambda is the AWS Lambda starter of computemw: the kit's route
// group (POST /api/execute {language, code} → {output, stderr,
// executionTime, ...}, /api/exec, /api/files, /api/health, /api/metrics,
// and the /api/sandboxes session routes when sessions are configured) as
// one function behind an API Gateway REST API, an HTTP API or a function
// URL.
//
// A function has no user namespaces, so it cannot run the local provider:
// it runs code on a remote provider configured in its environment. It is
// reachable by anyone who finds its URL, and runs code on the operator's
// account, so it refuses to start without an authenticator, and every
// caller is held to a rate limit and a usage quota.
//
//	GOOS=linux GOARCH=arm64 go build -tags lambda.norpc -o bootstrap ./examples/lambda
//	zip function.zip bootstrap   # runtime provided.al2023, handler bootstrap
//
// Environment:
//
//	E2B_API_KEY or DAYTONA_API_KEY  the provider (required)
//	COMPUTEMW_JWT_SECRET            HS256 secret (at least 32 bytes) of the
//	                                bearer tokens callers send; and/or
//	COMPUTEMW_API_KEY               a key callers send as X-API-Key (plan
//	                                COMPUTEMW_API_KEY_PLAN, default free).
//	                                One of the two is required.
//	COMPUTEMW_RATE_FREE             free-tier requests per 15 minutes (default
//	                                10; pro 100, enterprise 1000)
//	COMPUTEMW_QUOTA_FREE            free-plan executions per month (default 100)
//	COMPUTEMW_REDIS_URL             redis://host:6379/0: rate limits, quotas and
//	                                session records shared by every instance.
//	                                Without it they are each instance's own, and
//	                                the session routes answer 404 NOT_FOUND.
//	COMPUTEMW_ALLOWED_ORIGINS       comma-separated origins whose pages may call
//	                                it (CORS; none by default)
//	COMPUTEMW_BASE_PATH             a base path mapping or an HTTP API stage
//	                                name that starts every path
//
// With COMPUTEMW_REDIS_URL, give the function an EventBridge schedule (say
// every 5 minutes): each scheduled event destroys the sessions whose
// lifetime passed.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"

	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/auth"
	"github.com/computemw/kit/computemw/prommetrics"
	"github.com/computemw/kit/computemw/quota"
	"github.com/computemw/kit/computemw/ratelimit"
	"github.com/computemw/kit/providers/daytona"
	"github.com/computemw/kit/providers/e2b"
	"github.com/computemw/kit/stores/redisstore"
	computelambda "github.com/computemw/kit/transports/computelambda"
)

// errNoProvider is the start-up failure of a function without a remote
// provider.
var errNoProvider = errors.New("no remote provider configured: set E2B_API_KEY or DAYTONA_API_KEY")

// errNoAuth is the start-up failure of a function without an
// authenticator.
var errNoAuth = errors.New("no authenticator configured: set COMPUTEMW_JWT_SECRET (at least 32 bytes) or COMPUTEMW_API_KEY; " +
	"without one anyone who finds the function's URL runs code on your provider account")

// errNoSessions answers the session routes of a function without a shared
// session store.
var errNoSessions = computemw.Errorf(computemw.CodeNotFound,
	"sessions are not available: this function keeps no session store (set COMPUTEMW_REDIS_URL and schedule the function to reap them)")

func main() {
	prov, err := remoteProvider()
	if err != nil {
		exit(err)
	}
	kit, err := newKit(context.Background(), prov)
	if err != nil {
		exit(err)
	}
	// A function's instance is frozen between invocations and ended
	// without notice: the kit destroys a request's sandboxes before it
	// answers, so nothing of a request outlives its invocation.
	lambda.StartHandler(newHandler(kit))
}

func exit(err error) {
	slog.Error("computemw lambda", "error", err)
	os.Exit(1)
}

// remoteProvider is the provider the function runs code on, chosen from
// the environment.
func remoteProvider() (computemw.Provider, error) {
	switch {
	case os.Getenv("E2B_API_KEY") != "":
		return e2b.FromEnv()
	case os.Getenv("DAYTONA_API_KEY") != "":
		return daytona.FromEnv()
	}
	return nil, errNoProvider
}

// newKit builds the function's kit over prov: the caller authenticated,
// rate-limited and held to a quota; a request's sandboxes destroyed before
// it answers; executions bounded to the guide's serverless limit of 10
// seconds (a function's own time limit is the ceiling); sessions only with
// a shared store; metrics; CORS for the configured origins only.
func newKit(ctx context.Context, prov computemw.Provider) (*computemw.Kit, error) {
	authn, err := authenticator()
	if err != nil {
		return nil, err
	}
	rates, usage, sessions, err := stores(ctx)
	if err != nil {
		return nil, err
	}
	limits, err := rateLimits(rates)
	if err != nil {
		return nil, err
	}
	q, err := quotas(usage)
	if err != nil {
		return nil, err
	}
	return computemw.New(computemw.Config{
		Providers:           []computemw.Provider{prov},
		Policies:            []computemw.Policy{authn, limits, q},
		Metrics:             prommetrics.New(prommetrics.Options{}),
		DestroyBeforeReturn: true,
		SessionStore:        sessions,
		DefaultTimeout:      10 * time.Second,
		MaxTimeout:          30 * time.Second,
		AllowedOrigins:      allowedOrigins(),
	})
}

// authenticator verifies the callers' bearer tokens (COMPUTEMW_JWT_SECRET)
// or API key (COMPUTEMW_API_KEY); there must be at least one.
func authenticator() (computemw.Policy, error) {
	var cfg auth.Config
	if secret := os.Getenv("COMPUTEMW_JWT_SECRET"); secret != "" {
		cfg.JWT = &auth.JWTConfig{
			Algorithms: []string{"HS256"},
			Keys:       []auth.JWTKey{{Algorithm: "HS256", Key: []byte(secret)}},
			Leeway:     30 * time.Second,
		}
	}
	if key := os.Getenv("COMPUTEMW_API_KEY"); key != "" {
		plan := os.Getenv("COMPUTEMW_API_KEY_PLAN")
		if plan == "" {
			plan = "free"
		}
		cfg.APIKeys = map[string]computemw.Principal{auth.HashAPIKey(key): {ID: "api-key", Plan: plan}}
	}
	if cfg.JWT == nil && cfg.APIKeys == nil {
		return nil, errNoAuth
	}
	a, err := auth.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("authenticator: %w", err)
	}
	return a, nil
}

// rateLimits are the guide's tiers, the free one from COMPUTEMW_RATE_FREE.
func rateLimits(store limiter.Store) (computemw.Policy, error) {
	tiers := ratelimit.DefaultTiers()
	if v := os.Getenv("COMPUTEMW_RATE_FREE"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("COMPUTEMW_RATE_FREE=%q: want a positive number", v)
		}
		tiers["free"] = limiter.Rate{Period: tiers["free"].Period, Limit: n}
	}
	return ratelimit.New(ratelimit.Config{Tiers: tiers, Store: store})
}

// quotas are the guide's plans, the free one's executions from
// COMPUTEMW_QUOTA_FREE.
func quotas(store quota.Store) (computemw.Policy, error) {
	plans := quota.DefaultPlans()
	if v := os.Getenv("COMPUTEMW_QUOTA_FREE"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("COMPUTEMW_QUOTA_FREE=%q: want a positive number", v)
		}
		free := plans["free"]
		free.Executions = n
		plans["free"] = free
	}
	return quota.New(quota.Config{Plans: plans, Store: store})
}

// stores are where rate counters, usage and session records live: Redis
// with COMPUTEMW_REDIS_URL, else the instance's memory (nil) and no
// sessions.
func stores(ctx context.Context) (limiter.Store, quota.Store, computemw.SessionStore, error) {
	u := os.Getenv("COMPUTEMW_REDIS_URL")
	if u == "" {
		return nil, nil, nil, nil
	}
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
	return rates, redisstore.New(rdb, "computemw:quota"), redisstore.NewSessionStore(rdb, "computemw:sessions"), nil
}

// newHandler serves the route group under /api for Lambda's events, and
// reaps expired sessions on scheduled events. Without a session store the
// session routes answer 404 NOT_FOUND: a session lives on between
// invocations, and only a shared store and a scheduled reaper can end it
// once its lifetime passes, since nothing runs in a frozen function.
func newHandler(kit *computemw.Kit) *computelambda.Handler {
	mux := http.NewServeMux()
	computehttp.Mount(mux, "/api", kit)
	routes := http.Handler(mux)
	if kit.Config().SessionStore == nil {
		routes = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if p := r.URL.Path; p == "/api/sandboxes" || strings.HasPrefix(p, "/api/sandboxes/") {
				computehttp.Error(w, r, kit, errNoSessions)
				return
			}
			mux.ServeHTTP(w, r)
		})
	}
	return computelambda.New(routes, computelambda.Options{
		StripBasePath: os.Getenv("COMPUTEMW_BASE_PATH"),
		Scheduled: func(ctx context.Context) error {
			if kit.Config().SessionStore == nil {
				return nil
			}
			n, err := kit.Sessions().Reap(ctx)
			slog.InfoContext(ctx, "computemw lambda: reaped expired sessions", "destroyed", n)
			return err
		},
	})
}

// allowedOrigins are COMPUTEMW_ALLOWED_ORIGINS, comma-separated.
func allowedOrigins() []string {
	var out []string
	for _, o := range strings.Split(os.Getenv("COMPUTEMW_ALLOWED_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ulule/limiter/v3"

	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/auth"
	"github.com/computemw/kit/computemw/quota"
	"github.com/computemw/kit/computemw/ratelimit"
	"github.com/computemw/kit/transports/cfworker"
)

// errLocalProvider is what a Worker asked for the local provider answers.
var errLocalProvider = errors.New("COMPUTEMW_PROVIDER=local: the local provider cannot run in a Cloudflare Worker " +
	"(it needs a Linux host with bubblewrap and user namespaces); " + providerHint)

// errNoAuth is what a Worker without an authenticator answers.
var errNoAuth = errors.New("no authenticator configured: set COMPUTEMW_JWT_SECRET (at least 32 bytes) or COMPUTEMW_API_KEY; " +
	"without one anyone who finds the Worker's URL runs code on your provider account")

// errNoSessions answers the session routes: a session outlives the
// request that made it, and nothing a Worker's Go program keeps does.
var errNoSessions = computemw.Errorf(computemw.CodeNotFound,
	"sessions are not available: a Cloudflare Worker keeps no session store (each request runs in a Go instance of its own); use POST /api/execute")

// errNoWebSocket answers a WebSocket upgrade, which the Worker's bridge
// does not carry.
var errNoWebSocket = computemw.Errorf(computemw.CodeBadRequest,
	"WebSocket connections are not served by this Worker: use POST /api/execute or /api/exec")

// build returns the Worker's handler and its kit from the environment (the
// Worker's vars and secrets) or, when it cannot start, a handler answering
// every request 503 with the reason (and no kit).
func build() (http.Handler, *computemw.Kit) {
	prov, err := remoteProvider()
	var kit *computemw.Kit
	if err == nil {
		kit, err = newKit(prov)
	}
	if err != nil {
		slog.Error("computemw cfworker", "error", err)
		return unavailable(err), nil
	}
	return newHandler(kit), kit
}

// unavailable answers every request 503 UNAVAILABLE with err's message.
func unavailable(err error) http.Handler {
	body, _ := json.Marshal(map[string]string{"error": err.Error(), "code": string(computemw.CodeUnavailable)})
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write(append(body, '\n'))
	})
}

// remoteProvider is the provider the Worker runs code on, chosen from the
// environment, its HTTP going through the Worker's fetch.
func remoteProvider() (computemw.Provider, error) {
	if strings.EqualFold(os.Getenv("COMPUTEMW_PROVIDER"), "local") {
		return nil, errLocalProvider
	}
	return providerFromEnv(&http.Client{Transport: cfworker.Transport()})
}

// newKit builds the Worker's kit over prov: the caller authenticated,
// rate-limited and held to a quota; a request's sandboxes destroyed before
// it answers; executions bounded to the guide's serverless limit of 10
// seconds; no session store; CORS for the configured origins only.
func newKit(prov computemw.Provider) (*computemw.Kit, error) {
	policies, err := protections()
	if err != nil {
		return nil, err
	}
	return computemw.New(computemw.Config{
		Providers:           []computemw.Provider{prov},
		Policies:            policies,
		DestroyBeforeReturn: true,
		DefaultTimeout:      10 * time.Second,
		MaxTimeout:          30 * time.Second,
		AllowedOrigins:      allowedOrigins(),
	})
}

// closeKit closes the kit once the answer is out; a request's sandboxes
// are gone already.
func closeKit(kit *computemw.Kit) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := kit.Close(ctx); err != nil {
		slog.Error("computemw cfworker: closing the kit", "error", err)
	}
}

// protections are the authenticator (there must be one), the guide's rate
// limit tiers and its quota plans.
func protections() ([]computemw.Policy, error) {
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
	authn, err := auth.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("authenticator: %w", err)
	}
	// Counted in the isolate's memory: shared by the requests it runs,
	// each isolate on its own, lost when it is evicted.
	rates, usage := cfworker.RateStore(), cfworker.QuotaStore()
	tiers := ratelimit.DefaultTiers()
	free, err := positive("COMPUTEMW_RATE_FREE", tiers["free"].Limit)
	if err != nil {
		return nil, err
	}
	tiers["free"] = limiter.Rate{Period: tiers["free"].Period, Limit: free}
	limits, err := ratelimit.New(ratelimit.Config{Tiers: tiers, Store: rates})
	if err != nil {
		return nil, err
	}
	plans := quota.DefaultPlans()
	freePlan := plans["free"]
	if freePlan.Executions, err = positive("COMPUTEMW_QUOTA_FREE", freePlan.Executions); err != nil {
		return nil, err
	}
	plans["free"] = freePlan
	q, err := quota.New(quota.Config{Plans: plans, Store: usage})
	if err != nil {
		return nil, err
	}
	return []computemw.Policy{authn, limits, q}, nil
}

// positive is the environment variable name as a positive number, or def
// when it is not set.
func positive(name string, def int64) (int64, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive number", name, v)
	}
	return n, nil
}

// newHandler serves the route group under /api. The session routes answer
// 404 NOT_FOUND and WebSocket upgrades 400 BAD_REQUEST, before any policy
// runs and without making anything.
func newHandler(kit *computemw.Kit) http.Handler {
	mux := http.NewServeMux()
	computehttp.Mount(mux, "/api", kit)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case p == "/api/sandboxes" || strings.HasPrefix(p, "/api/sandboxes/"):
			computehttp.Error(w, r, kit, errNoSessions)
		case p == "/api/ws" || strings.EqualFold(r.Header.Get("Upgrade"), "websocket"):
			computehttp.Error(w, r, kit, errNoWebSocket)
		default:
			mux.ServeHTTP(w, r)
		}
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

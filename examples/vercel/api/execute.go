// Package handler is the Vercel Go function of computemw: POST
// /api/execute {language, code, timeout?} runs the code on a remote
// provider and answers the kit's execution JSON ({output, stderr,
// executionTime, success, exitCode, ...}); any other method is 405
// METHOD_NOT_ALLOWED. Deploy the folder with the Vercel CLI (its Go
// runtime serves Handler at /api/execute).
//
// A function has no user namespaces, so it cannot run the local provider:
// set E2B_API_KEY or DAYTONA_API_KEY. It runs code on that account for
// whoever calls it, so it requires an authenticator — COMPUTEMW_JWT_SECRET
// (HS256, at least 32 bytes; callers send Authorization: Bearer <jwt>)
// and/or COMPUTEMW_API_KEY (callers send X-API-Key; its plan is
// COMPUTEMW_API_KEY_PLAN, default free) — and holds every caller to a rate
// limit (COMPUTEMW_RATE_FREE requests per 15 minutes, default 10) and a
// quota (COMPUTEMW_QUOTA_FREE executions per month, default 100), counted
// per instance. Without a provider or an authenticator every call answers
// 503 with the message saying what to set. COMPUTEMW_ALLOWED_ORIGINS
// (comma-separated) lists the origins whose pages may call it (CORS; none
// by default).
//
// Each execution's sandbox is destroyed before the function answers, and
// the function serves no sessions, so nothing outlives an invocation.
package handler

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ulule/limiter/v3"

	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/auth"
	"github.com/computemw/kit/computemw/prommetrics"
	"github.com/computemw/kit/computemw/quota"
	"github.com/computemw/kit/computemw/ratelimit"
	"github.com/computemw/kit/providers/daytona"
	"github.com/computemw/kit/providers/e2b"
)

// errNoProvider is what a function without a remote provider answers.
var errNoProvider = errors.New("no remote provider configured: set E2B_API_KEY or DAYTONA_API_KEY")

// errNoAuth is what a function without an authenticator answers.
var errNoAuth = errors.New("no authenticator configured: set COMPUTEMW_JWT_SECRET (at least 32 bytes) or COMPUTEMW_API_KEY; " +
	"without one anyone who finds the function's URL runs code on your provider account")

// serve is the function's handler, built on the first invocation: the
// instance is reused between invocations.
var serve = sync.OnceValue(build)

// Handler is the function's entry point.
func Handler(w http.ResponseWriter, r *http.Request) { serve().ServeHTTP(w, r) }

// build returns the function's handler from the environment or, when it
// cannot start (no provider, no authenticator), one answering every call
// with 503 and the reason.
func build() http.Handler {
	prov, err := remoteProvider()
	var kit *computemw.Kit
	if err == nil {
		kit, err = newKit(prov)
	}
	if err != nil {
		slog.Error("computemw vercel", "error", err)
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error(), "code": string(computemw.CodeUnavailable)})
		})
	}
	return executeHandler(kit)
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
// rate-limited and held to a quota; an execution's sandbox destroyed
// before the function answers; executions bounded to the guide's
// serverless limit of 10 seconds; metrics; CORS for the configured origins
// only.
func newKit(prov computemw.Provider) (*computemw.Kit, error) {
	policies, err := protections()
	if err != nil {
		return nil, err
	}
	return computemw.New(computemw.Config{
		Providers:           []computemw.Provider{prov},
		Policies:            policies,
		Metrics:             prommetrics.New(prommetrics.Options{}),
		DestroyBeforeReturn: true,
		DefaultTimeout:      10 * time.Second,
		MaxTimeout:          30 * time.Second,
		AllowedOrigins:      allowedOrigins(),
	})
}

// protections are the authenticator (there must be one), the guide's rate
// limit tiers and its quota plans, counted in the instance's memory.
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
	tiers := ratelimit.DefaultTiers()
	free, err := positive("COMPUTEMW_RATE_FREE", tiers["free"].Limit)
	if err != nil {
		return nil, err
	}
	tiers["free"] = limiter.Rate{Period: tiers["free"].Period, Limit: free}
	limits, err := ratelimit.New(ratelimit.Config{Tiers: tiers})
	if err != nil {
		return nil, err
	}
	plans := quota.DefaultPlans()
	freePlan := plans["free"]
	if freePlan.Executions, err = positive("COMPUTEMW_QUOTA_FREE", freePlan.Executions); err != nil {
		return nil, err
	}
	plans["free"] = freePlan
	q, err := quota.New(quota.Config{Plans: plans})
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

// executeHandler serves the kit's POST /execute route, whatever path the
// platform routed to the function: its validation, policies, 405 for
// other methods, CORS preflights and errors are the route group's.
func executeHandler(kit *computemw.Kit) http.Handler {
	routes := computehttp.Handler(kit)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2 := r.Clone(r.Context())
		r2.URL.Path, r2.URL.RawPath = "/execute", ""
		routes.ServeHTTP(w, r2)
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

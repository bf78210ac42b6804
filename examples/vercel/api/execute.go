// Package handler is the Vercel Go function of computemw: POST
// /api/execute {language, code, timeout?} runs the code on a remote
// provider and answers the kit's execution JSON ({output, stderr,
// executionTime, success, exitCode, ...}); any other method is 405
// METHOD_NOT_ALLOWED. Deploy the folder with the Vercel CLI (its Go
// runtime serves Handler at /api/execute).
//
// A function has no user namespaces, so it cannot run the local provider:
// set E2B_API_KEY or DAYTONA_API_KEY. Without one every call answers 503
// with the message saying so. COMPUTEMW_ALLOWED_ORIGINS (comma-separated)
// lists the origins whose pages may call it (CORS; none by default).
package handler

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/prommetrics"
	"github.com/computemw/kit/providers/daytona"
	"github.com/computemw/kit/providers/e2b"
)

// errNoProvider is what a function without a remote provider answers.
var errNoProvider = errors.New("no remote provider configured: set E2B_API_KEY or DAYTONA_API_KEY")

// The function's instance is reused between invocations: the kit is built
// once, on the first.
var (
	once    sync.Once
	serve   http.Handler
	initErr error
)

// Handler is the function's entry point.
func Handler(w http.ResponseWriter, r *http.Request) {
	once.Do(func() {
		var prov computemw.Provider
		if prov, initErr = remoteProvider(); initErr != nil {
			slog.Error("computemw vercel", "error", initErr)
			return
		}
		var kit *computemw.Kit
		if kit, initErr = newKit(prov); initErr != nil {
			slog.Error("computemw vercel", "error", initErr)
			return
		}
		serve = executeHandler(kit)
	})
	if initErr != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": initErr.Error(), "code": string(computemw.CodeUnavailable)})
		return
	}
	serve.ServeHTTP(w, r)
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

// newKit builds the function's kit over prov: executions bounded to the
// guide's serverless limit of 10 seconds, metrics, and CORS for the
// configured origins only.
func newKit(prov computemw.Provider) (*computemw.Kit, error) {
	return computemw.New(computemw.Config{
		Providers:      []computemw.Provider{prov},
		Metrics:        prommetrics.New(prommetrics.Options{}),
		DefaultTimeout: 10 * time.Second,
		MaxTimeout:     30 * time.Second,
		AllowedOrigins: allowedOrigins(),
	})
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

// Command lambda is the AWS Lambda starter of computemw: the kit's route
// group (POST /api/execute {language, code} → {output, stderr,
// executionTime, ...}, /api/exec, /api/files, sessions, /api/health,
// /api/metrics) as one function behind an API Gateway REST API, an HTTP
// API or a function URL.
//
// A function has no user namespaces, so it cannot run the local provider:
// it runs code on a remote provider configured in its environment, and
// fails at start with a clear message when none is.
//
//	GOOS=linux GOARCH=arm64 go build -tags lambda.norpc -o bootstrap ./examples/lambda
//	zip function.zip bootstrap   # runtime provided.al2023, handler bootstrap
//
// Environment: E2B_API_KEY or DAYTONA_API_KEY (the provider);
// COMPUTEMW_ALLOWED_ORIGINS, comma-separated origins whose pages may call
// it (CORS; none by default); COMPUTEMW_BASE_PATH, a base path mapping or
// an HTTP API stage name that starts every path.
package main

import (
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/prommetrics"
	"github.com/computemw/kit/providers/daytona"
	"github.com/computemw/kit/providers/e2b"
	computelambda "github.com/computemw/kit/transports/computelambda"
)

// errNoProvider is the start-up failure of a function without a remote
// provider.
var errNoProvider = errors.New("no remote provider configured: set E2B_API_KEY or DAYTONA_API_KEY")

func main() {
	prov, err := remoteProvider()
	if err != nil {
		slog.Error("computemw lambda", "error", err)
		os.Exit(1)
	}
	kit, err := newKit(prov)
	if err != nil {
		slog.Error("computemw lambda", "error", err)
		os.Exit(1)
	}
	// A function's instance is frozen between invocations and ended
	// without notice; sandboxes of a request are destroyed before it
	// answers, so nothing outlives an invocation.
	lambda.StartHandler(newHandler(kit))
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
// guide's serverless limit of 10 seconds (a function's own time limit is
// the ceiling), metrics, and CORS for the configured origins only.
func newKit(prov computemw.Provider) (*computemw.Kit, error) {
	return computemw.New(computemw.Config{
		Providers:      []computemw.Provider{prov},
		Metrics:        prommetrics.New(prommetrics.Options{}),
		DefaultTimeout: 10 * time.Second,
		MaxTimeout:     30 * time.Second,
		AllowedOrigins: allowedOrigins(),
	})
}

// newHandler serves the route group under /api for Lambda's events.
func newHandler(kit *computemw.Kit) *computelambda.Handler {
	mux := http.NewServeMux()
	computehttp.Mount(mux, "/api", kit)
	return computelambda.New(mux, computelambda.Options{StripBasePath: os.Getenv("COMPUTEMW_BASE_PATH")})
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

//go:build !daytona

package main

import (
	"errors"
	"net/http"
	"os"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/e2b"
)

// One provider per build keeps the Worker under Cloudflare's 3 MB (free
// plan) limit: E2B by default, Daytona with -tags daytona.

// providerHint says what configures this build's provider.
const providerHint = "set E2B_API_KEY (this build serves E2B; build with -tags daytona for Daytona)"

// errNoProvider is what a Worker without a remote provider answers.
var errNoProvider = errors.New("no remote provider configured: " + providerHint)

// providerFromEnv is E2B from E2B_API_KEY, E2B_DOMAIN, E2B_TEMPLATE ...,
// calling through client.
func providerFromEnv(client *http.Client) (computemw.Provider, error) {
	if os.Getenv(e2b.EnvAPIKey) == "" {
		return nil, errNoProvider
	}
	o, err := e2b.OptionsFromEnv()
	if err != nil {
		return nil, err
	}
	o.HTTPClient = client
	return e2b.New(o)
}

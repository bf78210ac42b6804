//go:build daytona

package main

import (
	"errors"
	"net/http"
	"os"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/daytona"
)

// providerHint says what configures this build's provider.
const providerHint = "set DAYTONA_API_KEY (this build serves Daytona; build without -tags daytona for E2B)"

// errNoProvider is what a Worker without a remote provider answers.
var errNoProvider = errors.New("no remote provider configured: " + providerHint)

// providerFromEnv is Daytona from DAYTONA_API_KEY, DAYTONA_API_URL ...,
// calling through client.
func providerFromEnv(client *http.Client) (computemw.Provider, error) {
	if os.Getenv("DAYTONA_API_KEY") == "" {
		return nil, errNoProvider
	}
	o, err := daytona.OptionsFromEnv()
	if err != nil {
		return nil, err
	}
	o.HTTPClient = client
	return daytona.New(o)
}

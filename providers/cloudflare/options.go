package cloudflare

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Name is the provider's registry name.
const Name = "cloudflare"

// The environment variables [OptionsFromEnv] reads: the same ones
// ComputeSDK's Cloudflare provider reads.
const (
	// EnvURL is the bridge Worker's base URL (required).
	EnvURL = "CLOUDFLARE_SANDBOX_URL"
	// EnvAPIKey is the bridge's API key, its SANDBOX_API_KEY secret
	// (required).
	EnvAPIKey = "CLOUDFLARE_SANDBOX_API_KEY"
)

// Workspace is the directory of a sandbox that the bridge lets files and
// working directories reach: every path of the kit is relative to it.
const Workspace = "/workspace"

// Options configure the provider. Zero fields take the defaults shown.
type Options struct {
	// URL is the bridge Worker's base URL ("https://sandbox.example.workers.dev").
	// Required.
	URL string
	// APIKey is sent as "Authorization: Bearer <key>" to the bridge, and to
	// nothing else. Required.
	APIKey string
	// Languages maps a language to the command line that runs a source
	// file, with {file} standing for its path; default DefaultLanguages().
	Languages map[string]string
	// ExecTimeout is the default wall-clock limit of one execution
	// (default 30s). It is also sent to the bridge as timeout_ms, so that
	// the sandbox itself ends the command at that time.
	ExecTimeout time.Duration
	// MaxOutputBytes caps captured stdout and stderr each (default 1 MiB).
	MaxOutputBytes int64
	// MaxReadBytes is the largest file ReadFile returns (default 8 MiB);
	// OpenFile streams files of any size.
	MaxReadBytes int64
	// MaxStdinBytes caps ExecOptions.Stdin, which is uploaded before the
	// command starts (the bridge has no standard input channel); default
	// 8 MiB.
	MaxStdinBytes int64
	// MaxListEntries caps the entries ListFiles returns (default 10000).
	MaxListEntries int
	// CreateTimeout bounds a create (the bridge's ID, then the container's
	// start); a create whose caller gave up goes on in the background for
	// up to this long so that what it started can be destroyed (default 2
	// minutes).
	CreateTimeout time.Duration
	// MaxRetries is how many times an idempotent call (running, file read
	// and write, destroy, session delete) is retried after a 429, a 5xx or
	// a connection failure (default 3; negative: never). Create, exec and
	// session create are never retried.
	MaxRetries int
	// RetryBase is the first backoff delay (default 200ms), doubled per
	// retry up to RetryMax (default 5s); a Retry-After header wins when it
	// is longer and not over RetryMax.
	RetryBase, RetryMax time.Duration
	// HTTPClient carries the calls; default a client of its own. Only its
	// Transport and Timeout are used: whatever its CheckRedirect and Jar
	// say, no redirect is followed (an answer that redirects is an error
	// of class UNAVAILABLE), no cookie is kept, and the API key is sent
	// only to URL's origin (scheme, host, port). The Transport must not
	// follow redirects by itself. Terminals dial their WebSocket with it
	// too.
	HTTPClient *http.Client
	// Logger receives background events (a late create that was
	// destroyed); default slog.Default(). The API key is never logged.
	Logger *slog.Logger
}

// DefaultLanguages is the language table of Cloudflare's default sandbox
// image (docker.io/cloudflare/sandbox), which has Python 3 and Node.js.
func DefaultLanguages() map[string]string {
	return map[string]string{
		"python":     "python3 {file}",
		"javascript": "node {file}",
		"bash":       "bash {file}",
		"sh":         "sh {file}",
	}
}

func (o *Options) setDefaults() error {
	if strings.TrimSpace(o.APIKey) == "" {
		return errors.New("cloudflare: an API key is required (Options.APIKey or " + EnvAPIKey + ")")
	}
	o.URL = strings.TrimSuffix(strings.TrimSpace(o.URL), "/")
	u, err := url.Parse(o.URL)
	if o.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("cloudflare: the bridge URL %q is not an http(s) URL (Options.URL or %s)", o.URL, EnvURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("cloudflare: the bridge URL %q has a query or fragment", o.URL)
	}
	if o.Languages == nil {
		o.Languages = DefaultLanguages()
	}
	o.ExecTimeout = cmp.Or(o.ExecTimeout, 30*time.Second)
	o.MaxOutputBytes = cmp.Or(o.MaxOutputBytes, 1<<20)
	o.MaxReadBytes = cmp.Or(o.MaxReadBytes, 8<<20)
	o.MaxStdinBytes = cmp.Or(o.MaxStdinBytes, 8<<20)
	o.MaxListEntries = cmp.Or(o.MaxListEntries, 10000)
	o.CreateTimeout = cmp.Or(o.CreateTimeout, 2*time.Minute)
	if o.MaxRetries == 0 {
		o.MaxRetries = 3
	} else if o.MaxRetries < 0 {
		o.MaxRetries = 0
	}
	o.RetryBase = cmp.Or(o.RetryBase, 200*time.Millisecond)
	o.RetryMax = cmp.Or(o.RetryMax, 5*time.Second)
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	o.Logger = cmp.Or(o.Logger, slog.Default())
	return nil
}

// OptionsFromEnv reads Options from the environment
// (CLOUDFLARE_SANDBOX_URL and CLOUDFLARE_SANDBOX_API_KEY, both required).
func OptionsFromEnv() (Options, error) {
	o := Options{URL: os.Getenv(EnvURL), APIKey: os.Getenv(EnvAPIKey)}
	if o.URL == "" {
		return o, errors.New("cloudflare: " + EnvURL + " is not set")
	}
	if o.APIKey == "" {
		return o, errors.New("cloudflare: " + EnvAPIKey + " is not set")
	}
	return o, nil
}

// FromEnv makes a provider configured from the environment; see
// OptionsFromEnv.
func FromEnv() (*Provider, error) {
	o, err := OptionsFromEnv()
	if err != nil {
		return nil, err
	}
	return New(o)
}

package modal

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/computemw/kit/computemw"
)

// Default values of [Options].
const (
	DefaultServerURL      = "https://api.modal.com:443"
	DefaultAppName        = "computemw"
	DefaultImage          = "python:3.13-slim"
	DefaultWorkdir        = "/workspace"
	DefaultSandboxTimeout = time.Hour
	DefaultExecTimeout    = 5 * time.Minute
	DefaultMaxOutputBytes = 1 << 20
	DefaultMaxFileBytes   = 64 << 20
	DefaultCleanupWindow  = time.Minute
	DefaultRetries        = 3
	DefaultRetryBase      = 100 * time.Millisecond
	DefaultMaxRetryWait   = 10 * time.Second
)

// Options configure a [Provider]. TokenID and TokenSecret are required.
type Options struct {
	// TokenID and TokenSecret are the Modal API token.
	TokenID, TokenSecret string
	// ServerURL is Modal's API; default DefaultServerURL. An http:// URL
	// is spoken to in plaintext (a local server, such as the contract
	// fake in modalfake).
	ServerURL string
	// Environment is the Modal environment; empty uses the workspace's
	// default.
	Environment string
	// AppName is the App sandboxes are created in (made if missing);
	// default DefaultAppName.
	AppName string
	// Image is the registry image sandboxes start from, unless
	// CreateOptions.Template names another; default DefaultImage.
	Image string
	// Workdir is each sandbox's working directory, the root of relative
	// paths; default DefaultWorkdir.
	Workdir string
	// CPU (cores) and MemoryMiB are each sandbox's requests, unless
	// CreateOptions.Resources sets them; zero leaves Modal's defaults.
	CPU       float64
	MemoryMiB int
	// SandboxTimeout is a sandbox's longest life (whole seconds); default
	// DefaultSandboxTimeout.
	SandboxTimeout time.Duration
	// IdleTimeout ends a sandbox idle that long (whole seconds); zero
	// leaves Modal's default.
	IdleTimeout time.Duration
	// Tags are added to every sandbox's tags.
	Tags map[string]string
	// ExecTimeout is the timeout of an execution that sets none.
	ExecTimeout time.Duration
	// MaxOutputBytes caps captured stdout and stderr each.
	MaxOutputBytes int64
	// MaxFileBytes caps ReadFile.
	MaxFileBytes int64
	// CleanupWindow is how long, after a failed or cancelled Create, the
	// provider keeps looking for a sandbox Modal may still make, to
	// terminate it.
	CleanupWindow time.Duration
	// Retries is how often an idempotent call is retried after throttling
	// (429) or UNAVAILABLE; negative disables retries.
	Retries int
	// RetryBase is the first backoff of those retries; it doubles.
	RetryBase time.Duration
	// MaxRetryWait is the longest Retry-After a retry waits out; a longer
	// one is returned to the caller as RATE_LIMITED.
	MaxRetryWait time.Duration
	// Logger receives the SDK's own log; default none. The SDK logs no
	// credentials.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.ServerURL == "" {
		o.ServerURL = DefaultServerURL
	}
	if o.AppName == "" {
		o.AppName = DefaultAppName
	}
	if o.Image == "" {
		o.Image = DefaultImage
	}
	if o.Workdir == "" {
		o.Workdir = DefaultWorkdir
	}
	if o.SandboxTimeout <= 0 {
		o.SandboxTimeout = DefaultSandboxTimeout
	}
	if o.ExecTimeout <= 0 {
		o.ExecTimeout = DefaultExecTimeout
	}
	if o.MaxOutputBytes <= 0 {
		o.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = DefaultMaxFileBytes
	}
	if o.CleanupWindow <= 0 {
		o.CleanupWindow = DefaultCleanupWindow
	}
	if o.Retries == 0 {
		o.Retries = DefaultRetries
	}
	if o.Retries < 0 {
		o.Retries = 0
	}
	if o.RetryBase <= 0 {
		o.RetryBase = DefaultRetryBase
	}
	if o.MaxRetryWait <= 0 {
		o.MaxRetryWait = DefaultMaxRetryWait
	}
	return o
}

// The environment variables [OptionsFromEnv] reads. They are the SDK's
// own names.
const (
	EnvTokenID     = "MODAL_TOKEN_ID"
	EnvTokenSecret = "MODAL_TOKEN_SECRET"
	EnvServerURL   = "MODAL_SERVER_URL"
	EnvEnvironment = "MODAL_ENVIRONMENT"
)

// OptionsFromEnv reads Options from the environment: MODAL_TOKEN_ID and
// MODAL_TOKEN_SECRET (required), MODAL_SERVER_URL and MODAL_ENVIRONMENT.
func OptionsFromEnv() (Options, error) {
	o := Options{
		TokenID:     os.Getenv(EnvTokenID),
		TokenSecret: os.Getenv(EnvTokenSecret),
		ServerURL:   os.Getenv(EnvServerURL),
		Environment: os.Getenv(EnvEnvironment),
	}
	if o.TokenID == "" || o.TokenSecret == "" {
		return Options{}, fmt.Errorf("modal: %s and %s must both be set", EnvTokenID, EnvTokenSecret)
	}
	return o, nil
}

// FromEnv makes a Provider from [OptionsFromEnv].
func FromEnv() (*Provider, error) {
	o, err := OptionsFromEnv()
	if err != nil {
		return nil, err
	}
	return New(o)
}

// errNotSupported is the error of anything Modal cannot do.
func errNotSupported(what string) error {
	return computemw.Unsupported(Name, what)
}

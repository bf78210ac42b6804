package vercel

import (
	"fmt"
	"net/http"
	"os"
	"time"
)

// Default values of [Options].
const (
	DefaultAPIURL          = "https://vercel.com/api"
	DefaultSandboxTimeout  = 30 * time.Minute
	DefaultStartTimeout    = 3 * time.Minute
	DefaultExecTimeout     = 5 * time.Minute
	DefaultMaxOutputBytes  = 1 << 20
	DefaultMaxStdinBytes   = 1 << 20
	DefaultMaxFileBytes    = 64 << 20
	DefaultCleanupWindow   = time.Minute
	DefaultPollInterval    = 50 * time.Millisecond
	DefaultMaxPollInterval = time.Second
	DefaultRetries         = 3
)

// Options configure a [Provider]. Token, TeamID and ProjectID are required.
type Options struct {
	// Token is a Vercel access token, sent as "Authorization: Bearer
	// <token>" on every call and nowhere else.
	Token string
	// TeamID is the team the sandboxes belong to, sent as the teamId query
	// parameter of every call.
	TeamID string
	// ProjectID is the project new sandboxes are created in.
	ProjectID string
	// APIURL is the API's base URL; default DefaultAPIURL. Tests point it
	// at a fake (vercelfake).
	APIURL string
	// Image is the image new sandboxes start from ("node:24",
	// "python:3.14", ...), unless CreateOptions.Template names another;
	// empty uses Vercel's default image.
	Image string
	// Region is the region sandboxes run in ("iad1", "sfo1", ...); empty
	// lets Vercel choose.
	Region string
	// Ports are exposed by every sandbox (at most 15).
	Ports []int
	// VCPUs is the number of vCPUs of a sandbox that asks for no CPU
	// (Vercel gives 2048 MB of memory per vCPU); 0 uses Vercel's default.
	VCPUs int
	// MaxVCPUs caps the vCPUs a sandbox may ask for; default 8.
	MaxVCPUs int
	// SandboxTimeout is how long a sandbox lives before Vercel stops it,
	// unless kept alive; default DefaultSandboxTimeout.
	SandboxTimeout time.Duration
	// Tags are added to every sandbox's tags.
	Tags map[string]string
	// StartTimeout bounds the wait for a new sandbox to run.
	StartTimeout time.Duration
	// ExecTimeout is the timeout of an execution that sets none.
	ExecTimeout time.Duration
	// MaxOutputBytes caps captured stdout and stderr each.
	MaxOutputBytes int64
	// MaxStdinBytes caps the stdin of one execution (uploaded as a file).
	MaxStdinBytes int64
	// MaxFileBytes caps ReadFile and WriteFile.
	MaxFileBytes int64
	// CleanupWindow is how long, after a failed or cancelled Create, the
	// provider keeps trying to delete a sandbox Vercel may still finish.
	CleanupWindow time.Duration
	// PollInterval and MaxPollInterval bound the backoff of the polls for
	// a starting sandbox and of retries.
	PollInterval, MaxPollInterval time.Duration
	// Retries is how often an idempotent call is retried after a 429, a
	// 502/503/504 or a broken connection; negative disables retries.
	Retries int
	// HTTPClient makes the calls; default a client with no overall
	// timeout (every call is bounded by its context). Only its Transport
	// and Timeout are used: no redirect is followed and the token is sent
	// only to the origin of APIURL (see providers/internal/vendorhttp).
	HTTPClient *http.Client
}

func (o Options) withDefaults() Options {
	if o.APIURL == "" {
		o.APIURL = DefaultAPIURL
	}
	if o.MaxVCPUs <= 0 {
		o.MaxVCPUs = 8
	}
	if o.SandboxTimeout <= 0 {
		o.SandboxTimeout = DefaultSandboxTimeout
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	if o.ExecTimeout <= 0 {
		o.ExecTimeout = DefaultExecTimeout
	}
	if o.MaxOutputBytes <= 0 {
		o.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if o.MaxStdinBytes <= 0 {
		o.MaxStdinBytes = DefaultMaxStdinBytes
	}
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = DefaultMaxFileBytes
	}
	if o.CleanupWindow <= 0 {
		o.CleanupWindow = DefaultCleanupWindow
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.MaxPollInterval < o.PollInterval {
		o.MaxPollInterval = max(DefaultMaxPollInterval, o.PollInterval)
	}
	if o.Retries == 0 {
		o.Retries = DefaultRetries
	}
	if o.Retries < 0 {
		o.Retries = 0
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	return o
}

// The environment variables [OptionsFromEnv] reads.
const (
	EnvToken     = "VERCEL_TOKEN"
	EnvTeamID    = "VERCEL_TEAM_ID"
	EnvProjectID = "VERCEL_PROJECT_ID"
	EnvAPIURL    = "VERCEL_API_URL"
	EnvImage     = "VERCEL_SANDBOX_IMAGE"
	EnvRegion    = "VERCEL_SANDBOX_REGION"
)

// OptionsFromEnv reads Options from the environment: VERCEL_TOKEN,
// VERCEL_TEAM_ID and VERCEL_PROJECT_ID (all required), VERCEL_API_URL,
// VERCEL_SANDBOX_IMAGE and VERCEL_SANDBOX_REGION.
func OptionsFromEnv() (Options, error) {
	o := Options{
		Token:     os.Getenv(EnvToken),
		TeamID:    os.Getenv(EnvTeamID),
		ProjectID: os.Getenv(EnvProjectID),
		APIURL:    os.Getenv(EnvAPIURL),
		Image:     os.Getenv(EnvImage),
		Region:    os.Getenv(EnvRegion),
	}
	for name, v := range map[string]string{EnvToken: o.Token, EnvTeamID: o.TeamID, EnvProjectID: o.ProjectID} {
		if v == "" {
			return Options{}, fmt.Errorf("vercel: %s is not set", name)
		}
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

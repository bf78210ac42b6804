package daytona

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/computemw/kit/computemw"
)

// Default values of [Options].
const (
	DefaultAPIURL          = "https://app.daytona.io/api"
	DefaultStartTimeout    = 3 * time.Minute
	DefaultExecTimeout     = 5 * time.Minute
	DefaultMaxOutputBytes  = 1 << 20
	DefaultMaxStdinBytes   = 1 << 20
	DefaultMaxFileBytes    = 64 << 20
	DefaultCleanupWindow   = time.Minute
	DefaultPollInterval    = 25 * time.Millisecond
	DefaultMaxPollInterval = time.Second
	DefaultRetries         = 3
)

// Options configure a [Provider]. Only APIKey is required.
type Options struct {
	// APIKey authenticates every call ("Authorization: Bearer <key>").
	APIKey string
	// APIURL is the control-plane base URL; default DefaultAPIURL.
	APIURL string
	// OrganizationID, when set, is sent as X-Daytona-Organization-ID.
	OrganizationID string
	// Target is the region sandboxes are created in ("us", "eu"); empty
	// lets Daytona choose.
	Target string
	// Snapshot is the snapshot new sandboxes start from, unless
	// CreateOptions.Template names another; empty uses Daytona's default.
	Snapshot string
	// User is the user commands run as; empty uses the snapshot's.
	User string
	// DiskGB is the disk of each sandbox in GB; zero uses Daytona's default.
	DiskGB int
	// AutoStopMinutes stops a sandbox after that many minutes without
	// activity (0 leaves Daytona's default; negative disables auto-stop).
	AutoStopMinutes int
	// Labels are added to every sandbox's labels.
	Labels map[string]string
	// StartTimeout bounds the wait for a new sandbox to start.
	StartTimeout time.Duration
	// ExecTimeout is the timeout of an execution that sets none.
	ExecTimeout time.Duration
	// MaxOutputBytes caps captured stdout and stderr each.
	MaxOutputBytes int64
	// MaxStdinBytes caps an in-memory stdin that is uploaded.
	MaxStdinBytes int64
	// MaxFileBytes caps ReadFile.
	MaxFileBytes int64
	// CleanupWindow is how long, after a failed or cancelled Create, the
	// provider keeps trying to delete a sandbox Daytona may still finish.
	CleanupWindow time.Duration
	// PollInterval and MaxPollInterval bound the backoff of the polls for
	// a starting sandbox and for a running command's output.
	PollInterval, MaxPollInterval time.Duration
	// Retries is how often an idempotent call is retried after a 429, a
	// 502/503/504 or a broken connection; negative disables retries.
	Retries int
	// HTTPClient makes the calls; default a client with no overall
	// timeout (every call is bounded by its context). Only its Transport
	// and Timeout are used: whatever its CheckRedirect and Jar say, no
	// redirect is followed (an answer that redirects is an error of class
	// UNAVAILABLE), no cookie is kept, and the API key is sent only to the
	// origin (scheme, host, port) of APIURL and of the toolbox proxy the
	// control plane names. The Transport must not follow redirects by
	// itself.
	HTTPClient *http.Client
}

func (o Options) withDefaults() Options {
	if o.APIURL == "" {
		o.APIURL = DefaultAPIURL
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

// The environment variables [FromEnv] reads.
const (
	EnvAPIKey         = "DAYTONA_API_KEY"
	EnvAPIURL         = "DAYTONA_API_URL"
	EnvOrganizationID = "DAYTONA_ORGANIZATION_ID"
	EnvTarget         = "DAYTONA_TARGET"
	EnvSnapshot       = "DAYTONA_SNAPSHOT"
	EnvDiskGB         = "DAYTONA_DISK_GB"
	EnvAutoStop       = "DAYTONA_AUTO_STOP_MINUTES"
)

// OptionsFromEnv reads Options from the environment: DAYTONA_API_KEY
// (required), DAYTONA_API_URL, DAYTONA_ORGANIZATION_ID, DAYTONA_TARGET,
// DAYTONA_SNAPSHOT, DAYTONA_DISK_GB and DAYTONA_AUTO_STOP_MINUTES.
func OptionsFromEnv() (Options, error) {
	o := Options{
		APIKey:         os.Getenv(EnvAPIKey),
		APIURL:         os.Getenv(EnvAPIURL),
		OrganizationID: os.Getenv(EnvOrganizationID),
		Target:         os.Getenv(EnvTarget),
		Snapshot:       os.Getenv(EnvSnapshot),
	}
	var err error
	if o.DiskGB, err = envInt(EnvDiskGB); err != nil {
		return Options{}, err
	}
	if o.AutoStopMinutes, err = envInt(EnvAutoStop); err != nil {
		return Options{}, err
	}
	if o.APIKey == "" {
		return Options{}, fmt.Errorf("daytona: %s is not set", EnvAPIKey)
	}
	return o, nil
}

func envInt(name string) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("daytona: %s=%q is not an integer", name, v)
	}
	return n, nil
}

// FromEnv makes a Provider from [OptionsFromEnv].
func FromEnv() (*Provider, error) {
	o, err := OptionsFromEnv()
	if err != nil {
		return nil, err
	}
	return New(o)
}

// errNotSupported is the error of anything Daytona cannot do.
func errNotSupported(what string) error {
	return computemw.Errorf(computemw.CodeExecution, "%s is not supported by provider daytona", what)
}

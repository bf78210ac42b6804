package e2b

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/computemw/kit/computemw"
)

// Name is the provider's registry name.
const Name = "e2b"

// The environment variables FromEnv reads.
const (
	// EnvAPIKey holds the API key (required).
	EnvAPIKey = "E2B_API_KEY"
	// EnvAPIURL overrides the control plane's base URL.
	EnvAPIURL = "E2B_API_URL"
	// EnvDomain overrides the domain (default e2b.app): the control plane
	// is https://api.<domain> unless E2B_API_URL is set.
	EnvDomain = "E2B_DOMAIN"
	// EnvTemplate is the template of sandboxes whose CreateOptions name
	// none (default "base").
	EnvTemplate = "E2B_TEMPLATE"
	// EnvSandboxTimeout is the sandbox lifetime in seconds (default 300).
	EnvSandboxTimeout = "E2B_SANDBOX_TIMEOUT"
)

// Options configure the provider. Zero fields take the defaults shown.
type Options struct {
	// APIKey is sent as X-API-Key to the control plane. Required.
	APIKey string
	// Domain is E2B's domain; default "e2b.app".
	Domain string
	// APIURL is the control plane's base URL; default "https://api." + Domain.
	APIURL string
	// EnvdPort is the port whose host name reaches envd; default 49983.
	EnvdPort int
	// EnvdURL, when set, returns the base URL of a sandbox's envd from its
	// ID and domain, instead of "https://<EnvdPort>-<id>.<domain>".
	EnvdURL func(sandboxID, domain string) string
	// Template is used when CreateOptions.Template is empty; default "base".
	Template string
	// SandboxTimeout is how long a sandbox lives before E2B kills it, sent
	// in whole seconds (default 5 minutes). Sandbox.SetTimeout changes it.
	SandboxTimeout time.Duration
	// Workdir is the directory inside the sandbox that relative paths and
	// Cwd resolve against; default "/home/user".
	Workdir string
	// User, when set, is sent as envd's "username" parameter on file
	// transfers (which user owns uploaded files). An envd older than 0.4.0
	// needs a user named: then it defaults to "user", as E2B's SDKs, and is
	// also sent as Basic authorization on envd's RPCs.
	User string
	// Languages maps a language to the command line that runs a source
	// file, with {file} standing for its path; default DefaultLanguages().
	Languages map[string]string
	// ExecTimeout is the default wall-clock limit of one execution
	// (default 30s).
	ExecTimeout time.Duration
	// MaxOutputBytes caps captured stdout and stderr each (default 1 MiB).
	MaxOutputBytes int64
	// MaxReadBytes is the largest file ReadFile returns (default 8 MiB);
	// OpenFile streams files of any size.
	MaxReadBytes int64
	// CreateTimeout bounds a create call; a create whose caller gave up
	// earlier goes on in the background for up to this long so that what
	// it made can be killed (default 2 minutes).
	CreateTimeout time.Duration
	// MaxRetries is how many times an idempotent call (get, list, kill,
	// stat, list directory, download) is retried after a 429, a 5xx or a
	// connection failure (default 3; negative: never). Create and process
	// start are never retried.
	MaxRetries int
	// RetryBase is the first backoff delay (default 200ms), doubled per
	// retry up to RetryMax (default 5s); a Retry-After header wins when
	// it is longer and not over RetryMax.
	RetryBase, RetryMax time.Duration
	// KeepaliveInterval is how often envd is asked to send a keepalive
	// event on a process's stream (the Keepalive-Ping-Interval header, in
	// whole seconds, rounded up), so that a command that prints nothing for
	// long does not lose its stream at the idle timeout of E2B's edge;
	// default 50 seconds, as E2B's SDKs ask; negative: not asked.
	KeepaliveInterval time.Duration
	// HTTPClient carries both services; default a client of its own. Only
	// its Transport and Timeout are used: whatever its CheckRedirect and
	// Jar say, no redirect is followed (an answer that redirects is an
	// error of class UNAVAILABLE), no cookie is kept, and the API key and
	// envd's access token are sent only to the origin (scheme, host,
	// port) of the control plane and of each sandbox's envd. The Transport
	// must not follow redirects by itself.
	HTTPClient *http.Client
	// Logger receives background events (a late create that was killed);
	// default slog.Default().
	Logger *slog.Logger
}

// DefaultLanguages is the language table of E2B's base template.
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
		return errors.New("e2b: an API key is required (Options.APIKey or " + EnvAPIKey + ")")
	}
	o.Domain = cmp.Or(o.Domain, "e2b.app")
	o.APIURL = strings.TrimSuffix(cmp.Or(o.APIURL, "https://api."+o.Domain), "/")
	if !strings.HasPrefix(o.APIURL, "https://") && !strings.HasPrefix(o.APIURL, "http://") {
		return fmt.Errorf("e2b: API URL %q is not an http(s) URL", o.APIURL)
	}
	o.EnvdPort = cmp.Or(o.EnvdPort, 49983)
	o.Template = cmp.Or(o.Template, "base")
	o.SandboxTimeout = cmp.Or(o.SandboxTimeout, 5*time.Minute)
	if o.SandboxTimeout < time.Second {
		return fmt.Errorf("e2b: SandboxTimeout %s is under a second", o.SandboxTimeout)
	}
	o.Workdir = strings.TrimSuffix(cmp.Or(o.Workdir, "/home/user"), "/")
	if !strings.HasPrefix(o.Workdir, "/") {
		return fmt.Errorf("e2b: Workdir %q is not absolute", o.Workdir)
	}
	if o.Languages == nil {
		o.Languages = DefaultLanguages()
	}
	o.ExecTimeout = cmp.Or(o.ExecTimeout, 30*time.Second)
	o.MaxOutputBytes = cmp.Or(o.MaxOutputBytes, 1<<20)
	o.MaxReadBytes = cmp.Or(o.MaxReadBytes, 8<<20)
	o.CreateTimeout = cmp.Or(o.CreateTimeout, 2*time.Minute)
	if o.MaxRetries == 0 {
		o.MaxRetries = 3
	} else if o.MaxRetries < 0 {
		o.MaxRetries = 0
	}
	o.KeepaliveInterval = cmp.Or(o.KeepaliveInterval, 50*time.Second)
	o.RetryBase = cmp.Or(o.RetryBase, 200*time.Millisecond)
	o.RetryMax = cmp.Or(o.RetryMax, 5*time.Second)
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	o.Logger = cmp.Or(o.Logger, slog.Default())
	return nil
}

// OptionsFromEnv reads Options from the environment (E2B_API_KEY,
// E2B_API_URL, E2B_DOMAIN, E2B_TEMPLATE, E2B_SANDBOX_TIMEOUT).
func OptionsFromEnv() (Options, error) {
	o := Options{
		APIKey:   os.Getenv(EnvAPIKey),
		APIURL:   os.Getenv(EnvAPIURL),
		Domain:   os.Getenv(EnvDomain),
		Template: os.Getenv(EnvTemplate),
	}
	if o.APIKey == "" {
		return o, errors.New("e2b: " + EnvAPIKey + " is not set")
	}
	if s := os.Getenv(EnvSandboxTimeout); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return o, fmt.Errorf("e2b: %s=%q is not a positive number of seconds", EnvSandboxTimeout, s)
		}
		o.SandboxTimeout = time.Duration(n) * time.Second
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

// unsupported is the error of everything E2B cannot do.
func unsupported(what string) error {
	return computemw.Errorf(computemw.CodeBadRequest, "%s is not supported by provider e2b", what)
}

package vercel

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/internal/vendorhttp"
)

// Name is the provider's registry name.
const Name = "vercel"

// Tags the provider puts on every sandbox it creates.
const (
	TagManaged = "computemw.io/managed"
)

// Provider makes Vercel sandboxes. It is safe for concurrent use.
type Provider struct {
	opts Options
	base string // APIURL without a trailing slash
	doer *vendorhttp.Retrier

	mu      sync.Mutex
	live    map[string]*Sandbox
	closed  bool
	cleanup sync.WaitGroup // deletions of sandboxes whose Create failed
}

var (
	_ computemw.Provider       = (*Provider)(nil)
	_ computemw.LanguageLister = (*Provider)(nil)
	_ computemw.HealthChecker  = (*Provider)(nil)
	_ computemw.Closer         = (*Provider)(nil)
	_ computemw.Attacher       = (*Provider)(nil)
	_ computemw.Detacher       = (*Provider)(nil)
)

// New makes a Provider. It fails only on invalid options; it does not
// call Vercel (see [Provider.CheckHealth]).
func New(opts Options) (*Provider, error) {
	switch {
	case opts.Token == "":
		return nil, fmt.Errorf("vercel: Options.Token is empty (set %s)", EnvToken)
	case opts.TeamID == "":
		return nil, fmt.Errorf("vercel: Options.TeamID is empty (set %s)", EnvTeamID)
	case opts.ProjectID == "":
		return nil, fmt.Errorf("vercel: Options.ProjectID is empty (set %s)", EnvProjectID)
	}
	if len(opts.Ports) > 15 {
		return nil, fmt.Errorf("vercel: %d ports; a sandbox exposes at most 15", len(opts.Ports))
	}
	opts = opts.withDefaults()
	u, err := url.Parse(opts.APIURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("vercel: APIURL %q is not an http(s) URL", opts.APIURL)
	}
	c, err := vendorhttp.New(opts.HTTPClient, opts.APIURL, http.Header{"Authorization": {"Bearer " + opts.Token}})
	if err != nil {
		return nil, fmt.Errorf("vercel: %w", err)
	}
	d := &vendorhttp.Retrier{Client: c, Retries: opts.Retries, Base: 4 * opts.PollInterval}
	return &Provider{opts: opts, base: strings.TrimSuffix(opts.APIURL, "/"), doer: d, live: map[string]*Sandbox{}}, nil
}

// plainHTTP reports whether the API is reached over plain http (a fake on
// loopback): only then may a terminal's WebSocket be plain ws.
func (p *Provider) plainHTTP() bool { return strings.HasPrefix(strings.ToLower(p.base), "http://") }

// Name implements computemw.Provider.
func (p *Provider) Name() string { return Name }

// Languages implements computemw.LanguageLister: RunCode runs these with
// the interpreters of the sandbox's image (Vercel's default image has
// Node.js and Python).
func (p *Provider) Languages() []string {
	return []string{"python", "python3", "py", "javascript", "js", "node", "sh", "bash"}
}

// Runtimes implements computemw.LanguageLister: the languages by name.
func (p *Provider) Runtimes(context.Context) ([]computemw.Runtime, error) { return nil, nil }

// TemplateNames implements computemw.LanguageLister: a sandbox's template
// is an image name, which the provider does not list.
func (p *Provider) TemplateNames() []string { return nil }

// CheckHealth implements computemw.HealthChecker with one cheap
// authenticated call: listing at most one sandbox of the project.
func (p *Provider) CheckHealth(ctx context.Context) error {
	return p.call(ctx, request{op: "listSandboxes", method: http.MethodGet, path: "/v2/sandboxes",
		query: url.Values{"project": {p.opts.ProjectID}, "limit": {"1"}}}, 1<<20, nil)
}

// Close destroys the sandboxes of this provider that are still alive and
// waits, within ctx, for the deletions of failed creates to finish.
func (p *Provider) Close(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	live := make([]*Sandbox, 0, len(p.live))
	for _, sb := range p.live {
		live = append(live, sb)
	}
	p.mu.Unlock()
	var errs []error
	for _, sb := range live {
		errs = append(errs, sb.Destroy(ctx))
	}
	done := make(chan struct{})
	go func() { p.cleanup.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("vercel: close: cleanup of failed creates: %w", ctx.Err()))
	}
	p.opts.HTTPClient.CloseIdleConnections()
	return errors.Join(errs...)
}

func (p *Provider) track(sb *Sandbox) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.live[sb.id] = sb
	return true
}

func (p *Provider) untrack(id string) {
	p.mu.Lock()
	delete(p.live, id)
	p.mu.Unlock()
}

// randomID is a random hex string for names the provider chooses.
func randomID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

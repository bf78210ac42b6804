package cloudflare

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/internal/vendorhttp"
)

// Provider makes Cloudflare sandboxes through the bridge. It is safe for
// concurrent use.
type Provider struct {
	opts Options
	http *http.Client // pinned to the bridge's origin, with the API key
	// waitFunc replaces the wait before a retry in tests (nil: a timer).
	waitFunc func(ctx context.Context, d time.Duration) error

	bg sync.WaitGroup // creates whose caller gave up, and their destroys

	mu     sync.Mutex
	live   map[string]*Sandbox // made or attached by this provider, not yet destroyed
	closed bool
}

var _ interface {
	computemw.Provider
	computemw.LanguageLister
	computemw.HealthChecker
	computemw.Closer
} = (*Provider)(nil)

// New makes a provider. It does not call the bridge; CheckHealth does.
func New(opts Options) (*Provider, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	c, err := vendorhttp.New(opts.HTTPClient, opts.URL, http.Header{"Authorization": {"Bearer " + opts.APIKey}})
	if err != nil {
		return nil, fmt.Errorf("cloudflare: %w", err)
	}
	return &Provider{opts: opts, http: c, live: map[string]*Sandbox{}}, nil
}

// Name returns "cloudflare".
func (p *Provider) Name() string { return Name }

// Languages lists the languages RunCode knows, sorted.
func (p *Provider) Languages() []string {
	out := make([]string, 0, len(p.opts.Languages))
	for l := range p.opts.Languages {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// Runtimes describes the languages by name (see computemw.LanguageLister).
func (p *Provider) Runtimes(context.Context) ([]computemw.Runtime, error) { return nil, nil }

// TemplateNames is nil: the bridge Worker's container image is fixed, and
// a sandbox's template may only name a language (see
// computemw.LanguageLister).
func (p *Provider) TemplateNames() []string { return nil }

// poolStats is the bridge's PoolStats; only its presence matters.
type poolStats struct {
	Warm     int `json:"warm"`
	Assigned int `json:"assigned"`
	Total    int `json:"total"`
}

// CheckHealth asks the bridge for its warm pool's statistics: one cheap
// call that starts no container and proves both that the Worker answers
// and that it accepts the API key.
func (p *Provider) CheckHealth(ctx context.Context) error {
	var st poolStats
	return p.do(ctx, call{op: "health check", method: http.MethodGet, path: "/v1/pool/stats",
		idempotent: true, want: []int{http.StatusOK}, out: &st})
}

// Close destroys every sandbox this provider made or attached to that was
// not destroyed or detached, and waits (within ctx) for the creates whose
// caller gave up, and their destroys. Create and Attach fail after Close.
func (p *Provider) Close(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	left := make([]*Sandbox, 0, len(p.live))
	for _, sb := range p.live {
		left = append(left, sb)
	}
	p.mu.Unlock()
	var errs []error
	for _, sb := range left {
		if err := sb.Destroy(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	done := make(chan struct{})
	go func() { p.bg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("cloudflare: close: waiting for background destroys: %w", ctx.Err()))
	}
	p.http.CloseIdleConnections()
	return errors.Join(errs...)
}

// DestroyID destroys a sandbox by its ID, whether or not this provider
// holds it. The bridge answers the same for a sandbox it never started,
// so an unknown ID is not an error.
func (p *Provider) DestroyID(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	return p.do(ctx, call{op: "destroy sandbox", method: http.MethodDelete, path: sandboxPath(id),
		idempotent: true, want: []int{http.StatusNoContent}})
}

func (p *Provider) checkOpen() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return computemw.Errorf(computemw.CodeUnavailable, "provider cloudflare is closed")
	}
	return nil
}

func (p *Provider) track(sb *Sandbox) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return computemw.Errorf(computemw.CodeUnavailable, "provider cloudflare is closed")
	}
	p.live[sb.id] = sb
	return nil
}

func (p *Provider) untrack(id string) {
	p.mu.Lock()
	delete(p.live, id)
	p.mu.Unlock()
}

// idPattern is the bridge's sandbox ID: lowercase base32 (routes.ts).
var idPattern = regexp.MustCompile(`^[a-z2-7]{1,128}$`)

// checkID refuses an ID the bridge would refuse (and any that could
// change the request's path).
func checkID(id string) error {
	if !idPattern.MatchString(id) {
		return computemw.Errorf(computemw.CodeNotFound, "no sandbox %q on provider cloudflare (not a bridge sandbox ID)", truncate(id, 40))
	}
	return nil
}

// sandboxPath is the bridge's path of a sandbox.
func sandboxPath(id string) string { return "/v1/sandbox/" + url.PathEscape(id) }

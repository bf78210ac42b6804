package modal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"sync"

	"github.com/computemw/kit/computemw"
)

// Name is the provider's registry name.
const Name = "modal"

// Tags the provider puts on every sandbox it creates.
const (
	TagManaged = "computemw-managed"
	TagCreate  = "computemw-create"
)

// Provider makes Modal sandboxes. It is safe for concurrent use.
type Provider struct {
	opts  Options
	sdk   *sdkClient
	retry *retrier

	mu      sync.Mutex
	live    map[string]*Sandbox
	closed  bool
	cleanup sync.WaitGroup // terminations of sandboxes whose Create failed
}

var (
	_ computemw.Provider       = (*Provider)(nil)
	_ computemw.LanguageLister = (*Provider)(nil)
	_ computemw.HealthChecker  = (*Provider)(nil)
	_ computemw.Closer         = (*Provider)(nil)
)

// New makes a Provider. It fails only on invalid options; it does not
// call Modal (see [Provider.CheckHealth]).
func New(opts Options) (*Provider, error) {
	if opts.TokenID == "" || opts.TokenSecret == "" {
		return nil, fmt.Errorf("modal: Options.TokenID and TokenSecret must both be set (%s, %s)", EnvTokenID, EnvTokenSecret)
	}
	opts = opts.withDefaults()
	u, err := url.Parse(opts.ServerURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("modal: ServerURL %q is not an http(s) URL", opts.ServerURL)
	}
	if len(opts.Workdir) < 2 || opts.Workdir[0] != '/' || opts.Workdir[len(opts.Workdir)-1] == '/' {
		return nil, fmt.Errorf("modal: Workdir %q must be an absolute directory without a trailing slash", opts.Workdir)
	}
	sdk, err := newSDKClient(opts)
	if err != nil {
		return nil, err
	}
	return &Provider{
		opts:  opts,
		sdk:   sdk,
		retry: &retrier{retries: opts.Retries, base: opts.RetryBase, maxWait: opts.MaxRetryWait},
		live:  map[string]*Sandbox{},
	}, nil
}

// Name implements computemw.Provider.
func (p *Provider) Name() string { return Name }

// languages maps a language and its aliases to the interpreter that runs
// a program given as an argument.
var languages = map[string][]string{
	"python": {"python3", "-c"}, "python3": {"python3", "-c"}, "py": {"python3", "-c"},
	"sh": {"sh", "-c"}, "bash": {"bash", "-c"},
}

// Languages implements computemw.LanguageLister: the interpreters of the
// default image.
func (p *Provider) Languages() []string {
	return []string{"python", "python3", "py", "sh", "bash"}
}

// Runtimes implements computemw.LanguageLister: the languages by name.
func (p *Provider) Runtimes(context.Context) ([]computemw.Runtime, error) { return nil, nil }

// TemplateNames implements computemw.LanguageLister: a template is a
// registry image, not a language.
func (p *Provider) TemplateNames() []string { return nil }

// CheckHealth implements computemw.HealthChecker with one cheap
// authenticated call: listing at most one sandbox of the App.
func (p *Provider) CheckHealth(ctx context.Context) error {
	return p.retry.do(ctx, "list sandboxes", func(ctx context.Context) error {
		_, err := p.sdk.list(ctx, map[string]string{TagManaged: "true"}, 1)
		return err
	})
}

// List returns the IDs of the running sandboxes this kit made in the App
// (those tagged TagManaged); at most limit of them when limit > 0.
func (p *Provider) List(ctx context.Context, limit int) ([]string, error) {
	var ids []string
	err := p.retry.do(ctx, "list sandboxes", func(ctx context.Context) error {
		var err error
		ids, err = p.sdk.list(ctx, map[string]string{TagManaged: "true"}, limit)
		return err
	})
	return ids, err
}

// Terminate ends a sandbox by ID; one Modal no longer knows is not an
// error.
func (p *Provider) Terminate(ctx context.Context, id string) error {
	err := p.retry.do(ctx, "terminate sandbox", func(ctx context.Context) error { return p.sdk.terminate(ctx, id) })
	if errors.Is(err, computemw.ErrNotFound) {
		return nil
	}
	return err
}

// Close terminates the sandboxes of this provider that are still alive,
// waits, within ctx, for the terminations of failed creates, and closes
// the SDK's connections.
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
		errs = append(errs, fmt.Errorf("modal: close: cleanup of failed creates: %w", ctx.Err()))
	}
	p.sdk.close()
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

func (p *Provider) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// randomID is a random hex string for names the provider chooses.
func randomID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

package e2b

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/internal/vendorhttp"
)

// Provider makes E2B sandboxes. It is safe for concurrent use.
type Provider struct {
	opts Options
	cp   *http.Client // the control plane's, pinned to APIURL's origin
	// waitFunc replaces the wait before a retry in tests (nil: a timer).
	waitFunc func(ctx context.Context, d time.Duration) error

	bg sync.WaitGroup // background kills of sandboxes whose caller gave up

	mu     sync.Mutex
	live   map[string]*Sandbox // made or connected by this provider, not yet destroyed
	closed bool
}

// New makes a provider. It does not call the vendor; CheckHealth does.
func New(opts Options) (*Provider, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	cp, err := vendorhttp.New(opts.HTTPClient, opts.APIURL, http.Header{"X-API-Key": {opts.APIKey}})
	if err != nil {
		return nil, fmt.Errorf("e2b: %w", err)
	}
	return &Provider{opts: opts, cp: cp, live: map[string]*Sandbox{}}, nil
}

// Name returns "e2b".
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

// TemplateNames is nil: a sandbox's template is named by a language (see
// computemw.LanguageLister).
func (p *Provider) TemplateNames() []string { return nil }

// CheckHealth asks the control plane for one sandbox of the list, which
// proves both that it answers and that the API key is accepted.
func (p *Provider) CheckHealth(ctx context.Context) error {
	return p.api(ctx, call{
		op: "health check", method: http.MethodGet, path: "/v2/sandboxes",
		query: url.Values{"limit": {"1"}}, idempotent: true, want: []int{http.StatusOK},
	})
}

// Create makes a sandbox from opts.Template (or Options.Template) with the
// given metadata and environment; Network false asks E2B to deny internet
// access. E2B sizes memory and CPU by template, so non-zero
// Resources.MemoryMB, CPUCores or MaxProcesses are refused as not
// supported; Resources.MaxExecutionTime bounds each execution.
//
// Create is never retried. If ctx ends before the vendor answers, Create
// returns at once and the request goes on in the background: a sandbox it
// makes after all is killed. When the answer is lost (no answer, or a 5xx)
// the sandboxes carrying this create's token (CreateTokenKey) are looked
// up and killed in the background too.
func (p *Provider) Create(ctx context.Context, opts computemw.CreateOptions) (computemw.Sandbox, error) {
	if err := p.checkOpen(); err != nil {
		return nil, err
	}
	r := opts.Resources
	if r.MemoryMB != 0 || r.CPUCores != 0 || r.MaxProcesses != 0 {
		return nil, unsupported("a per-sandbox memory, CPU or process cap (E2B sizes sandboxes by template)")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("e2b: create sandbox: %w", err)
	}
	// A token of this create in the metadata finds the sandbox again when
	// the answer is lost (see sweep).
	token := newToken()
	meta := maps.Clone(opts.Metadata)
	if meta == nil {
		meta = map[string]string{}
	}
	meta[CreateTokenKey] = token
	body := newSandboxBody{
		TemplateID: cmpOr(opts.Template, p.opts.Template),
		Timeout:    seconds(p.opts.SandboxTimeout),
		Metadata:   meta,
		EnvVars:    opts.Env,
		Secure:     true,
	}
	if !opts.Network {
		no := false
		body.AllowInternetAccess = &no
	}

	type result struct {
		sb  *Sandbox
		err error
	}
	results := make(chan result) // unbuffered: a send means the caller took it
	abandon := make(chan struct{})
	p.bg.Add(1)
	go func() {
		defer p.bg.Done()
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.opts.CreateTimeout)
		defer cancel()
		var res result
		var answer sandboxBody
		res.err = p.api(cctx, call{
			op: "create sandbox", method: http.MethodPost, path: "/sandboxes",
			body: body, want: []int{http.StatusCreated}, out: &answer,
		})
		if res.err == nil && answer.SandboxID == "" {
			res.err = &computemw.Error{Code: computemw.CodeUnavailable, Message: "provider e2b is unavailable",
				Err: errors.New("e2b: create sandbox: the answer names no sandbox")}
		}
		if res.err == nil {
			// Tracked here, before anyone can see it, so that a Close
			// that begins now either destroys it or waits for this.
			sb, err := p.newSandbox(answer, opts.Resources.MaxExecutionTime)
			if err == nil {
				err = p.track(sb)
			}
			if err != nil {
				p.killLate(answer.SandboxID)
				res.err = err
			} else {
				res.sb = sb
			}
		}
		select {
		case results <- res:
		case <-abandon:
			if res.sb != nil {
				p.untrack(res.sb.id)
				p.killLate(res.sb.id)
			}
		}
		if res.err != nil && ambiguous(res.err) {
			p.sweep(token)
		}
	}()
	select {
	case res := <-results:
		if res.err != nil {
			return nil, res.err
		}
		return res.sb, nil
	case <-ctx.Done():
		close(abandon)
		return nil, fmt.Errorf("e2b: create sandbox: %w", ctx.Err())
	}
}

// CreateTokenKey is the metadata key under which Create records a random
// token of its own, so that a sandbox whose create answer was lost (a
// connection reset, a 5xx, a timeout) can be found and killed.
const CreateTokenKey = "computemw-create"

func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ambiguous reports whether a failed create may have made a sandbox all
// the same: no answer came, or a 5xx did.
func ambiguous(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status >= 500
	}
	return true
}

// sweep kills every sandbox that a create with this token made.
func (p *Provider) sweep(token string) {
	ctx, cancel := context.WithTimeout(context.Background(), p.opts.CreateTimeout)
	defer cancel()
	found, err := p.List(ctx, map[string]string{CreateTokenKey: token})
	if err != nil {
		p.opts.Logger.Error("e2b: looking for the sandbox of a failed create", "err", err)
		return
	}
	for _, sb := range found {
		p.killLate(sb.SandboxID)
	}
}

// killLate kills a sandbox that no caller owns, within CreateTimeout.
func (p *Provider) killLate(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), p.opts.CreateTimeout)
	defer cancel()
	if err := p.Kill(ctx, id); err != nil && !errors.Is(err, computemw.ErrNotFound) {
		p.opts.Logger.Error("e2b: killing a sandbox whose creator gave up", "sandbox", id, "err", err)
		return
	}
	p.opts.Logger.Info("e2b: killed a sandbox whose creator gave up", "sandbox", id)
}

// Connect attaches to a running (or paused: E2B resumes it) sandbox by ID.
// Its lifetime is extended to at least Options.SandboxTimeout from now.
// The caller owns the returned sandbox like one from Create.
func (p *Provider) Connect(ctx context.Context, id string) (*Sandbox, error) {
	if err := p.checkOpen(); err != nil {
		return nil, err
	}
	if err := checkID(id); err != nil {
		return nil, err
	}
	var out sandboxBody
	// Connecting twice is the same as connecting once, so it is retried.
	err := p.api(ctx, call{
		op: "connect sandbox", method: http.MethodPost, path: "/sandboxes/" + url.PathEscape(id) + "/connect",
		body: timeoutBody{Timeout: seconds(p.opts.SandboxTimeout)}, idempotent: true,
		want: []int{http.StatusOK, http.StatusCreated}, out: &out,
	})
	if err != nil {
		return nil, err
	}
	if out.SandboxID != id {
		return nil, &computemw.Error{Code: computemw.CodeUnavailable, Message: "provider e2b is unavailable",
			Err: fmt.Errorf("e2b: connect sandbox %s: the answer names %q", id, out.SandboxID)}
	}
	sb, err := p.newSandbox(out, 0)
	if err != nil {
		return nil, err
	}
	if err := p.track(sb); err != nil {
		return nil, err
	}
	return sb, nil
}

// Get describes one sandbox.
func (p *Provider) Get(ctx context.Context, id string) (SandboxInfo, error) {
	var out SandboxInfo
	if err := checkID(id); err != nil {
		return out, err
	}
	err := p.api(ctx, call{
		op: "get sandbox", method: http.MethodGet, path: "/sandboxes/" + url.PathEscape(id),
		idempotent: true, want: []int{http.StatusOK}, out: &out,
	})
	return out, err
}

// List lists the team's sandboxes, every page of them; metadata, when not
// empty, keeps those whose metadata has every given pair.
func (p *Provider) List(ctx context.Context, metadata map[string]string) ([]SandboxInfo, error) {
	q := url.Values{"limit": {"100"}}
	if len(metadata) > 0 {
		pairs := url.Values{}
		for k, v := range metadata {
			pairs.Set(k, v)
		}
		q.Set("metadata", pairs.Encode())
	}
	var all []SandboxInfo
	for page := 0; ; page++ {
		if page >= 1000 {
			return nil, &computemw.Error{Code: computemw.CodeUnavailable, Message: "provider e2b is unavailable",
				Err: errors.New("e2b: list sandboxes: more than 1000 pages")}
		}
		var out []SandboxInfo
		var h http.Header
		err := p.api(ctx, call{
			op: "list sandboxes", method: http.MethodGet, path: "/v2/sandboxes", query: q,
			idempotent: true, want: []int{http.StatusOK}, out: &out, header: &h,
		})
		if err != nil {
			return nil, err
		}
		all = append(all, out...)
		next := h.Get("X-Next-Token")
		if next == "" {
			return all, nil
		}
		q.Set("nextToken", next)
	}
}

// Kill kills a sandbox by ID. A sandbox that is already gone is an error of
// class NOT_FOUND.
func (p *Provider) Kill(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	return p.api(ctx, call{
		op: "kill sandbox", method: http.MethodDelete, path: "/sandboxes/" + url.PathEscape(id),
		idempotent: true, want: []int{http.StatusNoContent},
	})
}

// Close kills every sandbox this provider made or connected to that was not
// destroyed, and waits (within ctx) for the kills of sandboxes whose creator
// gave up. Create and Connect fail after Close.
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
		errs = append(errs, fmt.Errorf("e2b: close: waiting for background kills: %w", ctx.Err()))
	}
	return errors.Join(errs...)
}

func (p *Provider) checkOpen() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return computemw.Errorf(computemw.CodeUnavailable, "provider e2b is closed")
	}
	return nil
}

func (p *Provider) track(sb *Sandbox) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return computemw.Errorf(computemw.CodeUnavailable, "provider e2b is closed")
	}
	p.live[sb.id] = sb
	return nil
}

func (p *Provider) untrack(id string) {
	p.mu.Lock()
	delete(p.live, id)
	p.mu.Unlock()
}

// checkID refuses an ID that could change the request's path.
func checkID(id string) error {
	if id == "" || len(id) > 128 || strings.ContainsAny(id, "/?#%\\ \t\r\n") {
		return computemw.Errorf(computemw.CodeBadRequest, "invalid sandbox id")
	}
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

var _ interface {
	computemw.Provider
	computemw.LanguageLister
	computemw.HealthChecker
	computemw.Closer
} = (*Provider)(nil)

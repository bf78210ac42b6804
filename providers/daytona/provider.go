package daytona

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/daytona/internal/apiclient"
	"github.com/computemw/kit/providers/internal/vendorhttp"
)

// Name is the provider's registry name.
const Name = "daytona"

// Labels the provider puts on every sandbox it creates.
const (
	LabelManaged = "computemw.io/managed"
	LabelCreate  = "computemw.io/create-token"
)

// Provider makes Daytona sandboxes. It is safe for concurrent use.
type Provider struct {
	opts Options
	api  *apiclient.Client
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
)

// New makes a Provider. It fails only on invalid options; it does not
// call Daytona (see [Provider.CheckHealth]).
func New(opts Options) (*Provider, error) {
	if opts.APIKey == "" {
		return nil, fmt.Errorf("daytona: Options.APIKey is empty (set %s)", EnvAPIKey)
	}
	opts = opts.withDefaults()
	u, err := url.Parse(opts.APIURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("daytona: APIURL %q is not an http(s) URL", opts.APIURL)
	}
	creds := http.Header{"Authorization": {"Bearer " + opts.APIKey}}
	if opts.OrganizationID != "" {
		creds.Set("X-Daytona-Organization-ID", opts.OrganizationID) // the control plane's only
	}
	cp, err := vendorhttp.New(opts.HTTPClient, opts.APIURL, creds)
	if err != nil {
		return nil, fmt.Errorf("daytona: %w", err)
	}
	d := &vendorhttp.Retrier{Client: cp, Retries: opts.Retries, Base: 4 * opts.PollInterval}
	api, err := apiclient.NewClient(strings.TrimSuffix(opts.APIURL, "/"), apiclient.WithHTTPClient(d))
	if err != nil {
		return nil, fmt.Errorf("daytona: %w", err)
	}
	return &Provider{opts: opts, api: api, doer: d, live: map[string]*Sandbox{}}, nil
}

// Name implements computemw.Provider.
func (p *Provider) Name() string { return Name }

// Languages implements computemw.LanguageLister: the languages of the
// toolbox's code-run endpoint and their usual aliases.
func (p *Provider) Languages() []string {
	return []string{"python", "python3", "py", "javascript", "js", "node", "typescript", "ts"}
}

// Runtimes implements computemw.LanguageLister: the languages by name.
func (p *Provider) Runtimes(context.Context) ([]computemw.Runtime, error) { return nil, nil }

// TemplateNames implements computemw.LanguageLister: a sandbox's template
// (snapshot) is named by a language.
func (p *Provider) TemplateNames() []string { return nil }

// CheckHealth implements computemw.HealthChecker with one cheap
// authenticated call: listing at most one sandbox.
func (p *Provider) CheckHealth(ctx context.Context) error {
	one := float32(1)
	resp, err := p.api.ListSandboxes(ctx, &apiclient.ListSandboxesParams{Limit: &one})
	resp, err = classify.Check("listSandboxes", resp, err, 200)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
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
		errs = append(errs, fmt.Errorf("daytona: close: cleanup of failed creates: %w", ctx.Err()))
	}
	p.opts.HTTPClient.CloseIdleConnections()
	return errors.Join(errs...)
}

// SandboxInfo is what Daytona says about one sandbox.
type SandboxInfo struct {
	// ID is Daytona's sandbox ID, the computemw sandbox ID.
	ID string
	// Name is the sandbox's unique name ("computemw-" and random hex).
	Name string
	// State is Daytona's state: "started", "creating", "stopped", ...
	State string
	// Labels are the sandbox's labels, the create's metadata among them.
	Labels map[string]string
	// CPU (cores), MemoryGB and DiskGB are the sandbox's resources.
	CPU, MemoryGB, DiskGB float64
}

// Get describes one sandbox by ID or name.
func (p *Provider) Get(ctx context.Context, idOrName string) (SandboxInfo, error) {
	sb, err := p.get(ctx, idOrName)
	if err != nil {
		return SandboxInfo{}, err
	}
	return SandboxInfo{ID: sb.Id, Name: sb.Name, State: stateOf(sb), Labels: sb.Labels, CPU: float64(sb.Cpu), MemoryGB: float64(sb.Memory), DiskGB: float64(sb.Disk)}, nil
}

// List lists the sandboxes this kit made (those labelled LabelManaged),
// following Daytona's pages; at most limit of them when limit > 0.
func (p *Provider) List(ctx context.Context, limit int) ([]SandboxInfo, error) {
	labels, _ := json.Marshal(map[string]string{LabelManaged: "true"})
	ls := string(labels)
	page := float32(100)
	var out []SandboxInfo
	var cursor *string
	for {
		resp, err := p.api.ListSandboxes(ctx, &apiclient.ListSandboxesParams{Labels: &ls, Limit: &page, Cursor: cursor})
		resp, err = classify.Check("listSandboxes", resp, err, 200)
		if err != nil {
			return nil, err
		}
		var body apiclient.ListSandboxesResponse
		if err := classify.Decode("listSandboxes", resp, 16<<20, &body); err != nil {
			return nil, err
		}
		for _, it := range body.Items {
			st := ""
			if it.State != nil {
				st = string(*it.State)
			}
			out = append(out, SandboxInfo{ID: it.Id, Name: it.Name, State: st, Labels: it.Labels, CPU: float64(it.Cpu), MemoryGB: float64(it.Memory), DiskGB: float64(it.Disk)})
			if limit > 0 && len(out) >= limit {
				return out, nil
			}
		}
		if body.NextCursor == nil || *body.NextCursor == "" {
			return out, nil
		}
		cursor = body.NextCursor
	}
}

// Delete deletes a sandbox by ID or name; a sandbox already gone, or
// already being destroyed, is not an error. Daytona's delete is a soft
// delete: the sandbox is renamed and passes through the state
// "destroying" (Get still finds it by ID) before it is not found; a
// second delete meanwhile is a conflict (409), taken as done when the
// sandbox is indeed on its way out.
func (p *Provider) Delete(ctx context.Context, idOrName string) error {
	resp, err := p.api.DeleteSandbox(ctx, idOrName, nil)
	if err == nil && resp.StatusCode == http.StatusConflict {
		conflict := classify.Status("deleteSandbox", resp)
		resp.Body.Close()
		sb, err := p.get(ctx, idOrName)
		if errors.Is(err, computemw.ErrNotFound) || (err == nil && beingDestroyed(sb)) {
			return nil
		}
		return conflict
	}
	resp, err = classify.Check("deleteSandbox", resp, err, 200, 204)
	if errors.Is(err, computemw.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// beingDestroyed reports whether a sandbox is deleted and on its way out.
func beingDestroyed(sb *apiclient.Sandbox) bool {
	st := stateOf(sb)
	return st == "destroying" || st == "destroyed" ||
		(sb.DesiredState != nil && *sb.DesiredState == apiclient.SandboxDesiredStateDestroyed)
}

func (p *Provider) get(ctx context.Context, idOrName string) (*apiclient.Sandbox, error) {
	resp, err := p.api.GetSandbox(ctx, idOrName, nil)
	resp, err = classify.Check("getSandbox", resp, err, 200)
	if err != nil {
		return nil, err
	}
	var sb apiclient.Sandbox
	if err := classify.Decode("getSandbox", resp, 1<<20, &sb); err != nil {
		return nil, err
	}
	return &sb, nil
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

func stateOf(sb *apiclient.Sandbox) string {
	if sb.State == nil {
		return ""
	}
	return string(*sb.State)
}

// randomID is a random hex string for names the provider chooses.
func randomID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

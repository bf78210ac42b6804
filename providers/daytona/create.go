package daytona

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/daytona/internal/apiclient"
	"github.com/computemw/kit/providers/daytona/internal/toolboxclient"
	"github.com/computemw/kit/providers/internal/vendorhttp"
)

// Create implements computemw.Provider: it asks Daytona for a sandbox,
// waits (bounded by Options.StartTimeout and ctx, polling with backoff)
// until it has started, and learns its working directory. Whatever fails
// or is cancelled after the request was sent, the sandbox is deleted —
// also one that Daytona finishes creating after the client gave up, which
// is found by the unique name the provider gave it.
func (p *Provider) Create(ctx context.Context, opts computemw.CreateOptions) (computemw.Sandbox, error) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return nil, computemw.Errorf(computemw.CodeUnavailable, "provider daytona is closed")
	}
	name := "computemw-" + randomID()
	body := p.createBody(name, opts)
	resp, err := p.api.CreateSandbox(ctx, nil, body)
	if err != nil {
		// The request may have reached Daytona: delete what it makes.
		p.reap(name, "")
		return nil, classify.Call("createSandbox", err)
	}
	if resp.StatusCode != 200 && resp.StatusCode != 201 {
		err := classify.Status("createSandbox", resp)
		resp.Body.Close()
		if resp.StatusCode >= 500 && resp.StatusCode != 501 && resp.StatusCode != 507 {
			p.reap(name, "") // the outcome is unknown
		}
		return nil, err
	}
	var created apiclient.Sandbox
	if err := classify.Decode("createSandbox", resp, 1<<20, &created); err != nil {
		p.reap(name, "")
		return nil, err
	}
	sb, err := p.start(ctx, &created)
	if err != nil {
		p.reap(name, created.Id)
		return nil, err
	}
	if !p.track(sb) {
		p.reap(name, created.Id)
		return nil, computemw.Errorf(computemw.CodeUnavailable, "provider daytona is closed")
	}
	return sb, nil
}

func (p *Provider) createBody(name string, opts computemw.CreateOptions) apiclient.CreateSandbox {
	labels := map[string]string{}
	maps.Copy(labels, opts.Metadata)
	maps.Copy(labels, p.opts.Labels)
	labels[LabelManaged] = "true"
	labels[LabelCreate] = name
	body := apiclient.CreateSandbox{Name: &name, Labels: &labels}
	if len(opts.Env) > 0 {
		env := maps.Clone(opts.Env)
		body.Env = &env
	}
	if snap := firstOf(opts.Template, p.opts.Snapshot); snap != "" {
		body.Snapshot = &snap
	}
	if p.opts.Target != "" {
		body.Target = &p.opts.Target
	}
	if p.opts.User != "" {
		body.User = &p.opts.User
	}
	if c := opts.Resources.CPUCores; c > 0 {
		cores := int(math.Ceil(c)) // the API counts whole cores
		body.Cpu = &cores
	}
	if m := opts.Resources.MemoryMB; m > 0 {
		gb := (m + 1023) / 1024 // the API counts GB
		body.Memory = &gb
	}
	if p.opts.DiskGB > 0 {
		body.Disk = &p.opts.DiskGB
	}
	if a := p.opts.AutoStopMinutes; a != 0 {
		minutes := max(a, 0) // 0 disables auto-stop
		body.AutoStopInterval = &minutes
	}
	if !opts.Network {
		block := true
		body.NetworkBlockAll = &block
	}
	return body
}

// start waits for a created sandbox to run and makes its toolbox client.
func (p *Provider) start(ctx context.Context, created *apiclient.Sandbox) (*Sandbox, error) {
	ctx, cancel := context.WithTimeout(ctx, p.opts.StartTimeout)
	defer cancel()
	cur := created
	wait := p.opts.PollInterval
	for {
		switch st := stateOf(cur); st {
		case "started":
			return p.open(ctx, cur)
		case "error", "build_failed", "destroyed", "destroying", "stopped", "archived":
			reason := ""
			if cur.ErrorReason != nil {
				reason = *cur.ErrorReason
			}
			return nil, &computemw.Error{Code: computemw.CodeUnavailable, Message: "daytona could not start the sandbox",
				Err: fmt.Errorf("daytona sandbox %s: state %s: %s", cur.Id, st, reason)}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("daytona sandbox %s did not start: %w", cur.Id, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, p.opts.MaxPollInterval)
		next, err := p.get(ctx, created.Id)
		if err != nil {
			return nil, err
		}
		cur = next
	}
}

// open makes the toolbox client of a started sandbox and asks for its
// working directory, the root of every relative path.
func (p *Provider) open(ctx context.Context, s *apiclient.Sandbox) (*Sandbox, error) {
	if s.ToolboxProxyUrl == "" {
		return nil, &computemw.Error{Code: computemw.CodeUnavailable, Message: "daytona answered something unexpected",
			Err: fmt.Errorf("daytona sandbox %s has no toolboxProxyUrl", s.Id)}
	}
	base := strings.TrimSuffix(s.ToolboxProxyUrl, "/") + "/" + s.Id
	// The toolbox runs in the tenant's sandbox and may answer anything:
	// its client sends the API key to the toolbox proxy's origin only,
	// and a redirect (say, to another sandbox's toolbox on the same
	// proxy) is an error, never followed.
	c, err := vendorhttp.New(p.opts.HTTPClient, base, http.Header{
		"Authorization":         {"Bearer " + p.opts.APIKey},
		"X-Daytona-Sdk-Version": {sdkVersion},
	})
	if err != nil {
		return nil, &computemw.Error{Code: computemw.CodeUnavailable, Message: "daytona answered something unexpected",
			Err: fmt.Errorf("daytona sandbox %s: toolboxProxyUrl: %w", s.Id, err)}
	}
	tb, err := toolboxclient.NewClient(base, toolboxclient.WithHTTPClient(&vendorhttp.Retrier{
		Client: c, Retries: p.doer.Retries, Base: p.doer.Base, Wait: p.doer.Wait,
	}))
	if err != nil {
		return nil, fmt.Errorf("daytona: toolbox client: %w", err)
	}
	resp, err := tb.GetWorkDir(ctx)
	resp, err = classify.Check("GetWorkDir", resp, err, 200)
	if err != nil {
		return nil, err
	}
	var wd toolboxclient.WorkDirResponse
	if err := classify.Decode("GetWorkDir", resp, 64<<10, &wd); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(wd.Dir, "/") {
		return nil, &computemw.Error{Code: computemw.CodeUnavailable, Message: "daytona answered something unexpected",
			Err: fmt.Errorf("daytona sandbox %s: working directory %q is not absolute", s.Id, wd.Dir)}
	}
	return &Sandbox{p: p, id: s.Id, name: s.Name, tb: tb, workDir: strings.TrimSuffix(wd.Dir, "/")}, nil
}

// reap deletes, in the background, a sandbox whose Create failed. With an
// ID it is deleted once (with the retries of an idempotent call). Without
// one, the outcome of the create is unknown: the sandbox is deleted by its
// name, and until Options.CleanupWindow ends a "not found" means Daytona
// may still be making it, so the deletion is tried again. [Provider.Close]
// waits for these deletions.
func (p *Provider) reap(name, id string) {
	p.cleanup.Add(1)
	go func() {
		defer p.cleanup.Done()
		ctx, cancel := context.WithTimeout(context.Background(), p.opts.CleanupWindow)
		defer cancel()
		target := name
		if id != "" {
			target = id
		}
		wait := p.opts.PollInterval
		for {
			resp, err := p.api.DeleteSandbox(ctx, target, nil)
			resp, err = classify.Check("deleteSandbox", resp, err, 200, 204)
			if err == nil {
				resp.Body.Close()
				return
			}
			if id != "" && errors.Is(err, computemw.ErrNotFound) {
				return
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			wait = min(2*wait, p.opts.MaxPollInterval)
		}
	}()
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

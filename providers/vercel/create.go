package vercel

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/internal/vendorhttp"
)

// Create implements computemw.Provider: it asks Vercel for a sandbox
// (POST /v3/sandboxes), waits (bounded by Options.StartTimeout and ctx,
// polling with backoff) until its session runs. Whatever fails or is
// cancelled after the request was sent, the sandbox is deleted — also one
// that Vercel finishes creating after the client gave up, which is found
// by the unique name the provider gave it.
func (p *Provider) Create(ctx context.Context, opts computemw.CreateOptions) (computemw.Sandbox, error) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return nil, computemw.Errorf(computemw.CodeUnavailable, "provider vercel is closed")
	}
	name := "computemw-" + randomID()
	resp, err := p.do(ctx, request{op: "createSandbox", method: http.MethodPost, path: "/v3/sandboxes", body: p.createBody(name, opts)})
	if err != nil {
		// The request may have reached Vercel: delete what it makes.
		p.reap(name, false)
		return nil, classify.Call("createSandbox", err)
	}
	if resp.StatusCode != 200 && resp.StatusCode != 201 {
		err := classify.Status("createSandbox", resp)
		resp.Body.Close()
		if resp.StatusCode >= 500 && resp.StatusCode != 501 && resp.StatusCode != 507 {
			p.reap(name, false) // the outcome is unknown
		}
		return nil, err
	}
	var created sandboxAndSession
	if err := classify.Decode("createSandbox", resp, 1<<20, &created); err != nil {
		p.reap(name, false)
		return nil, err
	}
	sb, err := p.start(ctx, created.Session, name)
	if err != nil {
		p.reap(name, true)
		return nil, err
	}
	if !p.track(sb) {
		p.reap(name, true)
		return nil, computemw.Errorf(computemw.CodeUnavailable, "provider vercel is closed")
	}
	return sb, nil
}

func (p *Provider) createBody(name string, opts computemw.CreateOptions) createRequest {
	tags := map[string]string{}
	maps.Copy(tags, opts.Metadata)
	maps.Copy(tags, p.opts.Tags)
	tags[TagManaged] = "true"
	body := createRequest{
		ProjectID: p.opts.ProjectID, Name: name, Ports: p.opts.Ports,
		Timeout: p.opts.SandboxTimeout.Milliseconds(), Image: firstOf(opts.Template, p.opts.Image),
		Region: p.opts.Region, Tags: tags, Persistent: false,
	}
	if len(opts.Env) > 0 {
		body.Env = maps.Clone(opts.Env)
	}
	if v := p.vcpus(opts.Resources); v > 0 {
		body.Resources = &resources{VCPUs: v}
	}
	if opts.Network {
		body.NetworkPolicy = &networkPolicy{Mode: "allow-all"}
	} else {
		body.NetworkPolicy = &networkPolicy{Mode: "deny-all"}
	}
	return body
}

// vcpus is the number of vCPUs that gives a sandbox the asked CPU and
// memory (2048 MB per vCPU), within Options.MaxVCPUs; 0 leaves Vercel's
// default.
func (p *Provider) vcpus(r computemw.Resources) int {
	v := p.opts.VCPUs
	if r.CPUCores > 0 {
		v = max(v, int(math.Ceil(r.CPUCores)))
	}
	if r.MemoryMB > 0 {
		v = max(v, (r.MemoryMB+2047)/2048)
	}
	if v == 0 {
		return 0
	}
	return min(max(v, 1), p.opts.MaxVCPUs)
}

// start waits for a created session to run.
func (p *Provider) start(ctx context.Context, s apiSession, name string) (*Sandbox, error) {
	ctx, cancel := context.WithTimeout(ctx, p.opts.StartTimeout)
	defer cancel()
	wait := p.opts.PollInterval
	for {
		switch s.Status {
		case "running":
			return p.open(s, name)
		case "pending":
		default:
			return nil, &computemw.Error{Code: computemw.CodeUnavailable, Message: "vercel could not start the sandbox",
				Err: fmt.Errorf("vercel session %s: status %s", s.ID, s.Status)}
		}
		if err := vendorhttp.Wait(ctx, wait); err != nil {
			return nil, fmt.Errorf("vercel session %s did not start: %w", s.ID, err)
		}
		wait = min(2*wait, p.opts.MaxPollInterval)
		next, err := p.getSession(ctx, s.ID)
		if err != nil {
			return nil, err
		}
		s = *next
	}
}

// getSession describes one session (GET /v2/sandboxes/sessions/{id}).
func (p *Provider) getSession(ctx context.Context, id string) (*apiSession, error) {
	if id == "" || strings.ContainsAny(id, "/?#%") {
		return nil, computemw.Errorf(computemw.CodeNotFound, "sandbox %q not found", id)
	}
	var out sessionAnswer
	if err := p.call(ctx, request{op: "getSession", method: http.MethodGet, path: sessionPath(id)}, 1<<20, &out); err != nil {
		return nil, err
	}
	return &out.Session, nil
}

// open makes the handle of a running session.
func (p *Provider) open(s apiSession, name string) (*Sandbox, error) {
	if !path.IsAbs(s.Cwd) {
		return nil, &computemw.Error{Code: computemw.CodeUnavailable, Message: "vercel answered something unexpected",
			Err: fmt.Errorf("vercel session %s: working directory %q is not absolute", s.ID, s.Cwd)}
	}
	return &Sandbox{p: p, id: s.ID, name: name, workDir: strings.TrimSuffix(path.Clean(s.Cwd), "/")}, nil
}

// reap deletes, in the background, the sandbox of a failed Create by its
// name (DELETE /v2/sandboxes/{name}, which stops its session). When made
// is false the outcome of the create is unknown: until
// Options.CleanupWindow ends, "not found" means Vercel may still be making
// it, so the deletion is tried again. [Provider.Close] waits for these
// deletions.
func (p *Provider) reap(name string, made bool) {
	p.cleanup.Add(1)
	go func() {
		defer p.cleanup.Done()
		ctx, cancel := context.WithTimeout(context.Background(), p.opts.CleanupWindow)
		defer cancel()
		wait := p.opts.PollInterval
		for {
			err := p.deleteSandbox(ctx, name)
			if err == nil || (made && errors.Is(err, computemw.ErrNotFound)) {
				return
			}
			if vendorhttp.Wait(ctx, wait) != nil {
				return
			}
			wait = min(2*wait, p.opts.MaxPollInterval)
		}
	}()
}

// deleteSandbox deletes a named sandbox of the project.
func (p *Provider) deleteSandbox(ctx context.Context, name string) error {
	return p.call(ctx, request{op: "deleteSandbox", method: http.MethodDelete, path: "/v2/sandboxes/" + url.PathEscape(name),
		query: url.Values{"projectId": {p.opts.ProjectID}}}, 1<<20, nil)
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

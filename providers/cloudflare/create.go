package cloudflare

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"

	"github.com/computemw/kit/computemw"
)

// createBody is the answer of POST /v1/sandbox.
type createBody struct {
	ID string `json:"id"`
}

// runningBody is RunningResponse.
type runningBody struct {
	Running bool `json:"running"`
}

// Create makes a sandbox: the bridge hands out a new ID (which starts
// nothing), then the provider asks whether it is running, which makes the
// bridge start its container, so that a sandbox the caller gets is ready
// and a lack of capacity shows here, not at the first command.
// CreateOptions.Env is written to a file of the workspace that every
// command and terminal reads (see Sandbox.Exec).
//
// The bridge Worker fixes the container's image, size and network: a
// Template other than a language of Options.Languages, and non-zero
// Resources.MemoryMB, CPUCores or MaxProcesses, are refused as not
// supported, and Network is not enforced (the bridge has no egress
// control). Resources.MaxExecutionTime bounds each execution.
//
// Create is never retried. If ctx ends before it is done, Create returns
// at once and the steps under way go on in the background (within
// Options.CreateTimeout): whatever they started is then destroyed, so a
// create that succeeds after its caller gave up leaves nothing behind.
func (p *Provider) Create(ctx context.Context, opts computemw.CreateOptions) (computemw.Sandbox, error) {
	if err := p.checkOpen(); err != nil {
		return nil, err
	}
	if t := opts.Template; t != "" {
		if _, ok := p.opts.Languages[t]; !ok {
			return nil, computemw.Unsupported(Name, "template "+truncate(t, 60)+" (the bridge Worker's container image is fixed)")
		}
	}
	r := opts.Resources
	if r.MemoryMB != 0 || r.CPUCores != 0 || r.MaxProcesses != 0 {
		return nil, computemw.Unsupported(Name, "a per-sandbox memory, CPU or process cap (the bridge Worker sets the instance type)")
	}
	if err := computemw.ValidateEnv(opts.Env); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("cloudflare: create sandbox: %w", err)
	}
	env := maps.Clone(opts.Env)

	type result struct {
		sb  *Sandbox
		err error
	}
	results := make(chan result) // unbuffered: a send means the caller took it
	abandon := make(chan struct{})
	gone := func() bool {
		select {
		case <-abandon:
			return true
		default:
			return false
		}
	}
	p.bg.Add(1)
	go func() {
		defer p.bg.Done()
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.opts.CreateTimeout)
		defer cancel()
		var res result
		id, err := p.newID(cctx)
		if err == nil && gone() {
			// The ID alone starts nothing; the bridge answers its destroy
			// without starting a container either.
			p.destroyLate(id)
			return
		}
		if err == nil {
			var sb *Sandbox
			sb, err = p.start(cctx, id, env, r)
			if err == nil {
				// Tracked here, before anyone can see it, so that a Close
				// that begins now either destroys it or waits for this.
				err = p.track(sb)
			}
			if err != nil {
				p.destroyLate(id)
			}
			res.sb = sb
		}
		res.err = err
		if res.err != nil {
			res.sb = nil
		}
		select {
		case results <- res:
		case <-abandon:
			if res.sb != nil {
				p.untrack(res.sb.id)
				p.destroyLate(res.sb.id)
			}
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
		return nil, fmt.Errorf("cloudflare: create sandbox: %w", ctx.Err())
	}
}

// newID asks the bridge for a new sandbox ID.
func (p *Provider) newID(ctx context.Context) (string, error) {
	var out createBody
	err := p.do(ctx, call{op: "create sandbox", method: http.MethodPost, path: "/v1/sandbox",
		want: []int{http.StatusOK, http.StatusCreated}, out: &out})
	if err != nil {
		return "", err
	}
	if !idPattern.MatchString(out.ID) {
		return "", unexpected("create sandbox", fmt.Sprintf("the answer names no valid sandbox ID (%q)", truncate(out.ID, 40)))
	}
	return out.ID, nil
}

// start makes the bridge start a new sandbox's container and writes its
// environment.
func (p *Provider) start(ctx context.Context, id string, env map[string]string, r computemw.Resources) (*Sandbox, error) {
	sb := &Sandbox{p: p, id: id, env: env, envKnown: true, maxExec: r.MaxExecutionTime, terms: map[*terminal]struct{}{}}
	running, err := sb.running(ctx)
	if err != nil {
		return nil, err
	}
	if !running {
		return nil, &computemw.Error{Code: computemw.CodeUnavailable, Message: "provider cloudflare could not start the sandbox",
			Err: fmt.Errorf("cloudflare: sandbox %s: the bridge says it is not running", id)}
	}
	if len(env) > 0 {
		if err := sb.putFile(ctx, "write environment", envFile, []byte(encodeEnv(env))); err != nil {
			return nil, err
		}
	}
	return sb, nil
}

// destroyLate destroys a sandbox that no caller owns, within
// CreateTimeout.
func (p *Provider) destroyLate(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), p.opts.CreateTimeout)
	defer cancel()
	if err := p.DestroyID(ctx, id); err != nil && !errors.Is(err, computemw.ErrNotFound) {
		p.opts.Logger.Error("cloudflare: destroying a sandbox whose create failed or was abandoned", "sandbox", id, "err", err)
		return
	}
	p.opts.Logger.Info("cloudflare: destroyed a sandbox whose create failed or was abandoned", "sandbox", id)
}

package modal

import (
	"context"
	"errors"
	"maps"
	"time"

	"github.com/computemw/kit/computemw"
)

// Create implements computemw.Provider: it asks Modal for a sandbox in the
// provider's App, from its Image (CreateOptions.Template names another
// registry image). The create is sent once (the SDK's own retries of a
// broken call carry one idempotency key, so Modal makes one sandbox).
// Whatever fails or is cancelled after the request was sent, the sandbox
// is terminated — also one that Modal finishes making after the client
// gave up, which is found by the unique tag the provider gave it.
func (p *Provider) Create(ctx context.Context, opts computemw.CreateOptions) (computemw.Sandbox, error) {
	if p.isClosed() {
		return nil, computemw.Errorf(computemw.CodeUnavailable, "provider modal is closed")
	}
	token := randomID()
	spec := p.createSpec(token, opts)
	remote, sent, err := p.sdk.create(ctx, spec)
	if err != nil {
		err = classify(ctx, "create sandbox", err)
		if sent && sentAndUnknown(err) {
			p.reap(token, "")
		}
		return nil, err
	}
	if ctx.Err() != nil { // answered after the caller gave up
		p.reap(token, remote.id())
		remote.detach()
		return nil, classify(ctx, "create sandbox", ctx.Err())
	}
	sb := p.newSandbox(remote)
	if !p.track(sb) {
		p.reap(token, remote.id())
		remote.detach()
		return nil, computemw.Errorf(computemw.CodeUnavailable, "provider modal is closed")
	}
	return sb, nil
}

// sentAndUnknown reports whether a create that was sent and failed may
// still make a sandbox: Modal did not refuse it outright.
func sentAndUnknown(err error) bool {
	var e *computemw.Error
	if !errors.As(err, &e) {
		return true // the context's: the request may be under way
	}
	switch e.Code {
	case computemw.CodeBadRequest, computemw.CodeRateLimited, computemw.CodeResource, computemw.CodeNotFound, computemw.CodeExecution:
		return false
	}
	return true
}

func (p *Provider) createSpec(token string, opts computemw.CreateOptions) sdkCreate {
	tags := map[string]string{}
	maps.Copy(tags, opts.Metadata)
	maps.Copy(tags, p.opts.Tags)
	tags[TagManaged] = "true"
	tags[TagCreate] = token
	spec := sdkCreate{
		CPU:          p.opts.CPU,
		MemoryMiB:    p.opts.MemoryMiB,
		Timeout:      wholeSeconds(p.opts.SandboxTimeout),
		IdleTimeout:  wholeSeconds(p.opts.IdleTimeout),
		Image:        p.opts.Image,
		Workdir:      p.opts.Workdir,
		Env:          maps.Clone(opts.Env),
		BlockNetwork: !opts.Network,
		Tags:         tags,
	}
	if opts.Template != "" {
		spec.Image = opts.Template
	}
	if c := opts.Resources.CPUCores; c > 0 {
		spec.CPU = c
	}
	if m := opts.Resources.MemoryMB; m > 0 {
		spec.MemoryMiB = int(m)
	}
	return spec
}

// reap terminates, in the background, a sandbox whose Create failed. With
// an ID it is terminated once (with the retries of an idempotent call).
// Without one the outcome is unknown: the provider lists the App's
// sandboxes with the create's tag until Options.CleanupWindow ends and
// terminates what it finds. [Provider.Close] waits for these.
func (p *Provider) reap(token, id string) {
	p.cleanup.Add(1)
	go func() {
		defer p.cleanup.Done()
		ctx, cancel := context.WithTimeout(context.Background(), p.opts.CleanupWindow)
		defer cancel()
		if id != "" {
			_ = p.Terminate(ctx, id)
			return
		}
		wait := p.opts.RetryBase
		for {
			ids, err := p.sdk.list(ctx, map[string]string{TagCreate: token}, 0)
			if err == nil {
				for _, found := range ids {
					_ = p.Terminate(ctx, found)
				}
				if len(ids) > 0 {
					return
				}
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			wait = min(2*wait, 2*time.Second)
		}
	}()
}

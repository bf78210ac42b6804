package modal

import (
	"context"
	"errors"

	"github.com/computemw/kit/computemw"
)

var (
	_ computemw.Attacher = (*Provider)(nil)
	_ computemw.Detacher = (*Provider)(nil)
)

// Attach implements computemw.Attacher: it opens a handle on a running
// Modal sandbox by its ID (the SDK's FromID, then a poll that it still
// runs), so that any kit instance sharing a session store serves a
// session another instance created. A sandbox Modal does not know, or one
// that has finished, is NOT_FOUND.
func (p *Provider) Attach(ctx context.Context, id string) (computemw.Sandbox, error) {
	if id == "" {
		return nil, computemw.Errorf(computemw.CodeNotFound, "sandbox %q not found", id)
	}
	var remote *sdkSandbox
	var running bool
	err := p.retry.do(ctx, "attach sandbox", func(ctx context.Context) error {
		var err error
		remote, running, err = p.sdk.fromID(ctx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !running {
		remote.detach()
		return nil, computemw.Errorf(computemw.CodeNotFound, "sandbox %q has finished", id)
	}
	s := p.newSandbox(remote)
	if !p.track(s) {
		remote.detach()
		return nil, computemw.Errorf(computemw.CodeUnavailable, "provider modal is closed")
	}
	return s, nil
}

// Detach implements computemw.Detacher: the provider forgets the sandbox
// (Close no longer terminates it) and lets go of its connections; the
// sandbox lives on for the kit instances that share its session.
func (p *Provider) Detach(sb computemw.Sandbox) {
	p.untrack(sb.ID())
	if s, ok := sb.(*Sandbox); ok {
		s.remote.detach()
	}
}

func errIsNotFound(err error) bool { return errors.Is(err, computemw.ErrNotFound) }

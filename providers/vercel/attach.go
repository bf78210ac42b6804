package vercel

import (
	"context"
	"fmt"

	"github.com/computemw/kit/computemw"
)

// Attach implements computemw.Attacher: it opens a handle on a running
// Vercel sandbox by its session ID (GET /v2/sandboxes/sessions/{id}), so
// that any kit instance sharing a session store serves a session another
// instance created. A session Vercel does not know, or one that is not
// running, is NOT_FOUND.
func (p *Provider) Attach(ctx context.Context, id string) (computemw.Sandbox, error) {
	s, err := p.getSession(ctx, id)
	if err != nil {
		return nil, err
	}
	if s.Status != "running" {
		return nil, computemw.Errorf(computemw.CodeNotFound, "sandbox %q is not running (status %s)", id, s.Status)
	}
	sb, err := p.open(*s, "")
	if err != nil {
		return nil, fmt.Errorf("vercel: attach %s: %w", id, err)
	}
	if !p.track(sb) {
		return nil, computemw.Errorf(computemw.CodeUnavailable, "provider vercel is closed")
	}
	return sb, nil
}

// Detach implements computemw.Detacher: the provider forgets the sandbox
// (Close no longer destroys it), which lives on for the kit instances that
// share its session.
func (p *Provider) Detach(sb computemw.Sandbox) {
	p.untrack(sb.ID())
}

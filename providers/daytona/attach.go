package daytona

import (
	"context"
	"fmt"

	"github.com/computemw/kit/computemw"
)

var (
	_ computemw.Attacher = (*Provider)(nil)
	_ computemw.Detacher = (*Provider)(nil)
)

// Attach implements computemw.Attacher: it opens a handle on a running
// Daytona sandbox by its ID (Get, then the toolbox client), so that any
// kit instance sharing a session store serves a session another instance
// created. A sandbox Daytona does not know, or one that is not started,
// is NOT_FOUND.
func (p *Provider) Attach(ctx context.Context, id string) (computemw.Sandbox, error) {
	sb, err := p.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if st := stateOf(sb); st != "started" {
		return nil, computemw.Errorf(computemw.CodeNotFound, "sandbox %q is not running (state %s)", id, st)
	}
	s, err := p.open(ctx, sb)
	if err != nil {
		return nil, fmt.Errorf("daytona: attach %s: %w", id, err)
	}
	if !p.track(s) {
		return nil, &computemw.Error{Code: computemw.CodeUnavailable, Message: "provider closed"}
	}
	return s, nil
}

// Detach implements computemw.Detacher: the provider forgets the sandbox
// (Close no longer destroys it), which lives on for the kit instances that
// share its session.
func (p *Provider) Detach(sb computemw.Sandbox) {
	p.untrack(sb.ID())
}

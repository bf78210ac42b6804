package e2b

import (
	"context"

	"github.com/computemw/kit/computemw"
)

var (
	_ computemw.Attacher = (*Provider)(nil)
	_ computemw.Detacher = (*Provider)(nil)
)

// Attach implements computemw.Attacher through Connect, so that any kit
// instance sharing a session store serves a session another instance
// created.
func (p *Provider) Attach(ctx context.Context, id string) (computemw.Sandbox, error) {
	sb, err := p.Connect(ctx, id)
	if err != nil {
		return nil, err
	}
	return sb, nil
}

// Detach implements computemw.Detacher: the provider forgets the sandbox
// (Close no longer kills it), which lives on for the kit instances that
// share its session.
func (p *Provider) Detach(sb computemw.Sandbox) { p.untrack(sb.ID()) }

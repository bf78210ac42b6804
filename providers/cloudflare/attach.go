package cloudflare

import (
	"context"

	"github.com/computemw/kit/computemw"
)

var (
	_ computemw.Attacher = (*Provider)(nil)
	_ computemw.Detacher = (*Provider)(nil)
)

// Attach implements computemw.Attacher, so that any kit instance sharing a
// session store serves a session another instance created. It calls
// nothing: the bridge has no route that tells a live sandbox from one it
// never started or has destroyed (any call on an ID starts a container),
// so the session store, which forgets a sandbox when it is destroyed, is
// what says the sandbox exists. An ID the bridge would refuse is
// NOT_FOUND. The sandbox's environment is read from its workspace when a
// terminal needs it.
func (p *Provider) Attach(ctx context.Context, id string) (computemw.Sandbox, error) {
	if err := p.checkOpen(); err != nil {
		return nil, err
	}
	if err := checkID(id); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sb := &Sandbox{p: p, id: id, terms: map[*terminal]struct{}{}}
	if err := p.track(sb); err != nil {
		return nil, err
	}
	return sb, nil
}

// Detach implements computemw.Detacher: the provider forgets the sandbox
// (Close no longer destroys it), which lives on for the kit instances that
// share its session.
func (p *Provider) Detach(sb computemw.Sandbox) { p.untrack(sb.ID()) }

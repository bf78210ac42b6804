package kubernetes

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/computemw/kit/computemw"
)

var (
	_ computemw.Attacher = (*Provider)(nil)
	_ computemw.Detacher = (*Provider)(nil)
)

// Attach implements computemw.Attacher: it opens a handle on a Ready
// sandbox by its ID (one get of the claim or Sandbox), so that any kit
// instance sharing a session store serves a session another instance
// created. An object the API server does not know, one this kit did not
// make, or one not Ready is NOT_FOUND.
func (p *Provider) Attach(ctx context.Context, id string) (computemw.Sandbox, error) {
	var st readyState
	var lbl map[string]string
	var isReady bool
	if p.claims() {
		c, err := p.ext.ExtensionsV1beta1().SandboxClaims(p.opts.Namespace).Get(ctx, id, metav1.GetOptions{})
		if err != nil {
			return nil, apiError("get sandbox claim "+id, err)
		}
		lbl, isReady = c.Labels, ready(c.Status.Conditions) && c.Status.SandboxStatus.Name != ""
		st = readyState{c.Status.SandboxStatus.Name, firstIP(c.Status.SandboxStatus.PodIPs)}
	} else {
		s, err := p.sbx.AgentsV1beta1().Sandboxes(p.opts.Namespace).Get(ctx, id, metav1.GetOptions{})
		if err != nil {
			return nil, apiError("get sandbox "+id, err)
		}
		lbl, isReady = s.Labels, ready(s.Status.Conditions)
		st = readyState{s.Name, firstIP(s.Status.PodIPs)}
	}
	if lbl[LabelManaged] != "true" || !isReady {
		return nil, computemw.Errorf(computemw.CodeNotFound, "sandbox %q is not a running sandbox of this kit", id)
	}
	sb, err := p.open(id, st)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: attach %s: %w", id, err)
	}
	if !p.track(sb) {
		sb.closeConns()
		return nil, &computemw.Error{Code: computemw.CodeUnavailable, Message: "provider closed"}
	}
	return sb, nil
}

// Detach implements computemw.Detacher: the provider forgets the sandbox
// (Close no longer destroys it) and closes its connections; the sandbox
// lives on for the kit instances that share its session.
func (p *Provider) Detach(sb computemw.Sandbox) {
	p.untrack(sb.ID())
	if s, ok := sb.(*Sandbox); ok {
		s.closeConns()
	}
}

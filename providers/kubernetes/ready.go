package kubernetes

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	sandboxv1 "sigs.k8s.io/agent-sandbox/api/v1beta1"
	extv1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/computemw/kit/computemw"
)

// readyState is what a Ready object says of where its sandbox runs.
type readyState struct {
	sandboxName string // the Sandbox (and router X-Sandbox-ID)
	podIP       string
}

// waitReady watches the object from resourceVersion rv until its Ready
// condition is true (and, for a claim, its sandbox is named).
func (p *Provider) waitReady(ctx context.Context, name, rv string) (readyState, error) {
	sel := fields.OneTermEqualSelector("metadata.name", name).String()
	for {
		lo := metav1.ListOptions{FieldSelector: sel, ResourceVersion: rv, AllowWatchBookmarks: true}
		var w watch.Interface
		var err error
		if p.claims() {
			w, err = p.ext.ExtensionsV1beta1().SandboxClaims(p.opts.Namespace).Watch(ctx, lo)
		} else {
			w, err = p.sbx.AgentsV1beta1().Sandboxes(p.opts.Namespace).Watch(ctx, lo)
		}
		if err != nil {
			if ctx.Err() != nil {
				return readyState{}, ctx.Err()
			}
			return readyState{}, apiError("watch "+name, err)
		}
		// A get after the watch opened sees a Ready the watch may have
		// missed (a watch from rv misses nothing; one that had to restart,
		// or a server that ignores rv, might).
		if st, ok, err := p.readyNow(ctx, name); err != nil || ok {
			w.Stop()
			return st, err
		}
		st, next, done, err := p.drain(ctx, w, name)
		w.Stop()
		if done || err != nil {
			return st, err
		}
		if next != "" {
			rv = next
		}
	}
}

// drain reads a watch until the object is Ready (done), fails, or the
// watch ends (then it returns the last resourceVersion seen).
func (p *Provider) drain(ctx context.Context, w watch.Interface, name string) (st readyState, rv string, done bool, err error) {
	for {
		select {
		case <-ctx.Done():
			return st, rv, false, ctx.Err()
		case ev, open := <-w.ResultChan():
			if !open {
				return st, rv, false, nil
			}
			switch ev.Type {
			case watch.Deleted:
				return st, rv, false, computemw.Errorf(computemw.CodeUnavailable, "sandbox %s was deleted while it started", name)
			case watch.Error:
				return st, "", false, apiError("watch "+name, fmt.Errorf("%v", ev.Object))
			}
			if m, ok := ev.Object.(metav1.Object); !ok || m.GetName() != name {
				continue
			}
			switch o := ev.Object.(type) {
			case *extv1.SandboxClaim:
				rv = o.ResourceVersion
				if ready(o.Status.Conditions) && o.Status.SandboxStatus.Name != "" {
					return readyState{o.Status.SandboxStatus.Name, firstIP(o.Status.SandboxStatus.PodIPs)}, rv, true, nil
				}
				if reason := failed(o.Status.Conditions); reason != "" {
					return st, rv, false, computemw.Errorf(computemw.CodeUnavailable, "sandbox claim %s failed: %s", name, reason)
				}
			case *sandboxv1.Sandbox:
				rv = o.ResourceVersion
				if ready(o.Status.Conditions) {
					return readyState{o.Name, firstIP(o.Status.PodIPs)}, rv, true, nil
				}
			}
		}
	}
}

// readyNow gets the object and reports whether it is Ready.
func (p *Provider) readyNow(ctx context.Context, name string) (readyState, bool, error) {
	if p.claims() {
		c, err := p.ext.ExtensionsV1beta1().SandboxClaims(p.opts.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return readyState{}, false, apiError("get "+name, err)
		}
		if reason := failed(c.Status.Conditions); reason != "" {
			return readyState{}, false, computemw.Errorf(computemw.CodeUnavailable, "sandbox claim %s failed: %s", name, reason)
		}
		return readyState{c.Status.SandboxStatus.Name, firstIP(c.Status.SandboxStatus.PodIPs)},
			ready(c.Status.Conditions) && c.Status.SandboxStatus.Name != "", nil
	}
	s, err := p.sbx.AgentsV1beta1().Sandboxes(p.opts.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return readyState{}, false, apiError("get "+name, err)
	}
	return readyState{s.Name, firstIP(s.Status.PodIPs)}, ready(s.Status.Conditions), nil
}

// ready reports whether the Ready condition is true.
func ready(cs []metav1.Condition) bool {
	for _, c := range cs {
		if c.Type == string(sandboxv1.SandboxConditionReady) {
			return c.Status == metav1.ConditionTrue
		}
	}
	return false
}

// failed is the reason of a Ready condition that will not become true:
// an expired claim.
func failed(cs []metav1.Condition) string {
	for _, c := range cs {
		if c.Type == string(sandboxv1.SandboxConditionReady) && c.Status == metav1.ConditionFalse && c.Reason == extv1.ClaimExpiredReason {
			return c.Reason
		}
	}
	return ""
}

func firstIP(ips []string) string {
	if len(ips) == 0 {
		return ""
	}
	return ips[0]
}

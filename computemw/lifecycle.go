package computemw

import (
	"context"
	"fmt"
	"time"
)

// capacityRetryAfter is the Retry-After sent when the sandbox cap is hit.
const capacityRetryAfter = time.Second

// Create makes a sandbox on the named provider ("" is the default) that the
// kit tracks until it is destroyed: the Go form of
// compute(provider, opts). The caller must Destroy it; [Kit.Close] destroys
// whatever is left.
//
// Create is governed: the policies authorize an [OpCreate] action first
// (a context that did not come from [Kit.Admit] is admitted here, on an
// empty request — so with authentication configured, pass a context from
// Kit.Admit or one carrying [WithPrincipal]), and every execution, terminal
// and file operation on the returned sandbox is authorized, limited,
// observed by the hooks and accounted like a request of its own.
func (k *Kit) Create(ctx context.Context, provider string, opts CreateOptions) (Sandbox, error) {
	g, err := k.createFor(ctx, OpCreate, provider, opts)
	if err != nil {
		return nil, err
	}
	return g.view(), nil
}

// Acquire creates a sandbox, as [Kit.Create] does, for the span of one
// request and returns a release function that destroys it. Release is
// idempotent, runs even when the request's context is already cancelled
// (client gone), and is bounded by Config.DestroyTimeout. Call it with
// defer right after a nil error.
//
// Called with a context admitted as [OpMiddleware] (an adapter's
// sandbox-per-request middleware), the creation is authorized as that
// operation.
func (k *Kit) Acquire(ctx context.Context, provider string, opts CreateOptions) (Sandbox, func(), error) {
	op := OpCreate
	if admitted(ctx) && opFrom(ctx) == OpMiddleware {
		op = OpMiddleware
	}
	sb, err := k.createFor(ctx, op, provider, opts)
	if err != nil {
		return nil, func() {}, err
	}
	return sb.view(), k.releaser(ctx, sb), nil
}

// createFor admits the caller if needed, authorizes a sandbox creation of
// op, and creates the sandbox.
func (k *Kit) createFor(ctx context.Context, op Op, provider string, opts CreateOptions) (*governed, error) {
	ctx, err := k.ensureAdmitted(ctx, op)
	if err != nil {
		return nil, err
	}
	p, plan, err := k.pick(provider)
	if err != nil {
		return nil, err
	}
	if err := ValidateEnv(opts.Env); err != nil {
		return nil, err
	}
	a := &Action{Op: op, Provider: p.Name(), Language: opts.Template, Timeout: k.cfg.DefaultTimeout,
		Create: opts, CreatesSandbox: true, plan: plan}
	if err := k.authorize(ctx, a); err != nil {
		return nil, err
	}
	g, err := k.create(ctx, a)
	if err != nil {
		return nil, k.notRun(ctx, a, err)
	}
	return g, nil
}

// releaser returns the idempotent, bounded destroy of a request's sandbox.
func (k *Kit) releaser(ctx context.Context, sb Sandbox) func() {
	return func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.cfg.DestroyTimeout)
		defer cancel()
		if err := sb.Destroy(dctx); err != nil {
			k.log.ErrorContext(ctx, "computemw: destroy sandbox", "sandbox", sb.ID(), "provider", sb.Provider(), "error", err)
		}
	}
}

// create makes the sandbox of an authorized action: the one place where
// the kit calls a provider's Create. It holds a slot of Config.MaxSandboxes
// for the sandbox's life and reports the creation to the hooks. When the
// strategy planned several providers (a.plan), a provider error on one
// tries the next: a.Provider becomes that provider, the policies
// authorize the action for it, and the failed try is reported as a
// rejection (so what policies reserved for it is given back).
func (k *Kit) create(ctx context.Context, a *Action) (*governed, error) {
	plan := a.plan
	if len(plan) == 0 {
		plan = []string{a.Provider}
	}
	for i, name := range plan {
		if i > 0 {
			a.Provider = name
			if err := k.reauthorize(ctx, a); err != nil {
				return nil, err
			}
		}
		g, fromProvider, err := k.createOn(ctx, a)
		if err == nil {
			return g, nil
		}
		if !fromProvider || !isProviderError(err) || i == len(plan)-1 || ctx.Err() != nil {
			return nil, err
		}
		k.log.WarnContext(ctx, "computemw: provider failed, trying the next", "provider", name, "next", plan[i+1], "error", err)
		k.rejected(ctx, a.Op, a, err)
	}
	panic("unreachable")
}

// reauthorize runs the policies again for an action whose provider
// changed; a refusal is reported by the caller, as for any failed
// creation.
func (k *Kit) reauthorize(ctx context.Context, a *Action) error {
	for _, p := range k.cfg.Policies {
		if err := p.Authorize(ctx, a); err != nil {
			return err
		}
	}
	return nil
}

// createOn creates the sandbox of a on a.Provider; fromProvider reports
// that the error is the provider's (not the kit's capacity).
func (k *Kit) createOn(ctx context.Context, a *Action) (g *governed, fromProvider bool, err error) {
	p, err := k.provider(a.Provider)
	if err != nil {
		return nil, false, err
	}
	// A caller's cap counts only below MaxSandboxes (the capacity queue
	// covers the rest); a health probe's sandbox is nobody's.
	var owner string
	if limit := lower(k.cfg.MaxSandboxesPerPrincipal, a.MaxSandboxes); a.Op != OpHealth && limit < k.cfg.MaxSandboxes {
		if !k.Ready() {
			return nil, false, &Error{Code: CodeUnavailable, Message: "shutting down", RetryAfter: capacityRetryAfter}
		}
		owner = k.owner(ctx)
		if err := k.owned.take(ctx, owner, limit, max(0, k.cfg.QueueTimeout)); err != nil {
			return nil, false, err
		}
	}
	if err := k.reserve(ctx); err != nil {
		k.owned.give(owner)
		return nil, false, err
	}
	a.Create.Owner = ""
	if a.Op != OpHealth {
		a.Create.Owner = k.owner(ctx)
	}
	start := time.Now()
	sb, err := k.providerCreate(ctx, p, a)
	if a.Op != OpHealth && (ctx.Err() == nil || err == nil) {
		if k.ph.result(p.Name(), err) {
			k.health.invalidate(p.Name())
			k.log.WarnContext(ctx, "computemw: provider marked unhealthy", "provider", p.Name(), "error", err)
		}
	}
	if err != nil {
		k.unreserve()
		k.owned.give(owner)
		if ctx.Err() != nil && StatusOf(err) == 500 {
			return nil, false, fmt.Errorf("computemw: create sandbox on %q: %w", p.Name(), ctx.Err())
		}
		return nil, true, fmt.Errorf("computemw: create sandbox on %q: %w", p.Name(), err)
	}
	took := time.Since(start)
	g = &governed{raw: sb, k: k, limit: a.Create.Resources.MaxExecutionTime, defaultTimeout: a.Timeout, owner: owner}
	k.startMeter(ctx, a, g)
	k.mu.Lock()
	k.live[g] = struct{}{}
	k.mu.Unlock()
	for _, h := range k.hooks {
		h.SandboxCreated(ctx, g, took)
	}
	return g, false, nil
}

// notRun reports an authorized action that failed before it could run
// (unknown session, sandbox creation) to the hooks as a rejection, so that
// what policies reserved for it is given back. It returns err.
func (k *Kit) notRun(ctx context.Context, a *Action, err error) error {
	k.rejected(ctx, a.Op, a, err)
	return err
}

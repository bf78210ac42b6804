package computemw

import "context"

// Tracer traces the governed path (Config.Tracer; the oteltrace package
// implements it over OpenTelemetry). The kit starts one span per step of
// every governed operation, in order: "admission" (Kit.Admit: the
// policies' Admit), "policies" (each action's authorization by every
// policy), "create" (the provider's creation of a sandbox), "execution"
// (one execute or exec, with the files it writes first) and "destroy"
// (the provider's destroy). The context a step's Start returns is the one
// the step's work runs with, down to the provider's calls, so that a
// provider's HTTP or gRPC calls can nest under "create", "execution" and
// "destroy". Unlike [Hooks], which only observe, a Tracer hands that
// context on. Its methods are called concurrently, from the requests'
// goroutines and from background destroys, and must not block.
type Tracer interface {
	// Continue returns ctx carrying the trace the caller's request
	// belongs to, read from its headers h (a W3C traceparent) when ctx
	// carries none yet (when no middleware of the application started
	// one); else ctx. Kit.Admit calls it first, so that every step of
	// the request is part of the caller's trace.
	Continue(ctx context.Context, h Header) context.Context
	// Start begins the span of step, a child of ctx's, and returns the
	// context the step runs with and the function that ends the span,
	// called once with the step's error (nil on success). The kit may
	// fill more of step (SandboxID, ExitCode, Principal) before calling
	// end; step is not used after end returns.
	Start(ctx context.Context, step *TraceStep) (context.Context, func(err error))
}

// TraceStep is one step of the governed path, as a [Tracer] sees it: what
// the kit knows of it when it starts, completed before it ends. It holds
// no credential.
type TraceStep struct {
	// Name is "admission", "policies", "create", "execution" or
	// "destroy".
	Name string
	// Op is the operation the step is part of.
	Op Op
	// Provider and Language are the action's ("" when not known).
	Provider string
	Language string
	// SandboxID is the sandbox the step works on; for "create", set
	// once the sandbox exists.
	SandboxID string
	// Principal is the authenticated caller's ID ([Principal].ID), "" for
	// an anonymous caller; for "admission", set once the policies
	// admitted the caller.
	Principal string
	// ExitCode is the program's exit code when Exited is true: an
	// "execution" that has a result (a partial one for a time or
	// resource limit).
	ExitCode int
	Exited   bool
}

// stepTrace is a step being traced; nil when the kit has no Tracer, and
// then every method is a no-op that costs nothing.
type stepTrace struct {
	step TraceStep
	end  func(error)
}

// trace starts the span of a step when the kit has a Tracer.
func (k *Kit) trace(ctx context.Context, step TraceStep) (context.Context, *stepTrace) {
	if k.cfg.Tracer == nil {
		return ctx, nil
	}
	t := &stepTrace{step: step}
	t.step.Principal = principalID(ctx)
	ctx, t.end = k.cfg.Tracer.Start(ctx, &t.step)
	return ctx, t
}

// actionStep is the step named name of action a.
func actionStep(name string, a *Action) TraceStep {
	return TraceStep{Name: name, Op: a.Op, Provider: a.Provider, Language: a.Language, SandboxID: a.SandboxID}
}

// continueTrace returns ctx in the trace of the caller's request, when the
// kit has a Tracer.
func (k *Kit) continueTrace(ctx context.Context, h Header) context.Context {
	if k.cfg.Tracer == nil {
		return ctx
	}
	return k.cfg.Tracer.Continue(ctx, h)
}

// done ends the step with err.
func (t *stepTrace) done(err error) {
	if t != nil {
		t.end(err)
	}
}

// admitted ends an admission with the caller the policies admitted.
func (t *stepTrace) admitted(ctx context.Context, err error) {
	if t != nil {
		t.step.Principal = principalID(ctx)
		t.end(err)
	}
}

// created ends a creation with the sandbox made (nil on error).
func (t *stepTrace) created(sb Sandbox, err error) {
	if t != nil {
		if err == nil && sb != nil {
			t.step.SandboxID = sb.ID()
		}
		t.end(err)
	}
}

// ran ends an execution with its result (nil when it did not run).
func (t *stepTrace) ran(res *Result, err error) {
	if t != nil {
		if res != nil {
			t.step.ExitCode, t.step.Exited = res.ExitCode, true
		}
		t.end(err)
	}
}

// providerCreate calls p's Create for a, in the "create" step.
func (k *Kit) providerCreate(ctx context.Context, p Provider, a *Action) (sb Sandbox, err error) {
	ctx, tr := k.trace(ctx, actionStep("create", a))
	if tr != nil {
		defer func() { tr.created(sb, err) }()
	}
	return p.Create(ctx, a.Create)
}

// providerRun runs an authorized execution of a in g, in the "execution"
// step.
func (k *Kit) providerRun(ctx context.Context, a *Action, g *governed, opts ExecOptions, fn execFunc) (res *Result, err error) {
	if k.cfg.Tracer == nil {
		return fn(ctx, opts)
	}
	step := actionStep("execution", a)
	step.SandboxID = g.raw.ID()
	ctx, tr := k.trace(ctx, step)
	defer func() { tr.ran(res, err) }()
	return fn(ctx, opts)
}

// providerDestroy destroys g's provider sandbox, in the "destroy" step.
func (k *Kit) providerDestroy(ctx context.Context, g *governed) (err error) {
	if k.cfg.Tracer == nil {
		return g.raw.Destroy(ctx)
	}
	ctx, tr := k.trace(ctx, TraceStep{Name: "destroy", Op: opFrom(ctx), Provider: g.raw.Provider(), SandboxID: g.raw.ID()})
	defer func() { tr.done(err) }()
	return g.raw.Destroy(ctx)
}

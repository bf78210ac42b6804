package computemw

import "context"

// contextView offers a governed sandbox's code contexts (see
// [ContextRunner]); the views below add it to the others exactly when the
// provider's sandbox holds contexts.
type contextView struct{ g *governed }

// CreateContext starts a governed code context.
func (v contextView) CreateContext(ctx context.Context, opts ContextOptions) (CodeContext, error) {
	return v.g.createContext(ctx, opts)
}

// Contexts lists the sandbox's code contexts.
func (v contextView) Contexts(ctx context.Context) ([]CodeContext, error) {
	return v.g.contexts(ctx)
}

// RunInContext runs code in a context as a governed execution.
func (v contextView) RunInContext(ctx context.Context, id, code string, opts ExecOptions) (*ContextResult, error) {
	return v.g.runInContext(ctx, id, code, opts)
}

// InterruptContext interrupts a context's running execution.
func (v contextView) InterruptContext(ctx context.Context, id string) error {
	return v.g.manageContext(ctx, id, ContextRunner.InterruptContext)
}

// RestartContext restarts a context's interpreter.
func (v contextView) RestartContext(ctx context.Context, id string) error {
	return v.g.manageContext(ctx, id, ContextRunner.RestartContext)
}

// DeleteContext ends a context.
func (v contextView) DeleteContext(ctx context.Context, id string) error {
	return v.g.manageContext(ctx, id, ContextRunner.DeleteContext)
}

type (
	govC struct {
		*governed
		contextView
	}
	govTC struct {
		*governed
		terminalView
		contextView
	}
	govFC struct {
		*governed
		fileView
		contextView
	}
	govPC struct {
		*governed
		processView
		contextView
	}
	govTFC struct {
		*governed
		terminalView
		fileView
		contextView
	}
	govTPC struct {
		*governed
		terminalView
		processView
		contextView
	}
	govFPC struct {
		*governed
		fileView
		processView
		contextView
	}
	govTFPC struct {
		*governed
		terminalView
		fileView
		processView
		contextView
	}
)

// contextsView is view for a sandbox that holds code contexts, with
// terminals (t), streamed files (f) and background processes (p) as its
// provider's sandbox has them.
func (g *governed) contextsView(t, f, p bool) Sandbox {
	tv, fv, pv, cv := terminalView{g}, fileView{g}, processView{g}, contextView{g}
	switch {
	case t && f && p:
		return govTFPC{g, tv, fv, pv, cv}
	case t && f:
		return govTFC{g, tv, fv, cv}
	case t && p:
		return govTPC{g, tv, pv, cv}
	case f && p:
		return govFPC{g, fv, pv, cv}
	case t:
		return govTC{g, tv, cv}
	case f:
		return govFC{g, fv, cv}
	case p:
		return govPC{g, pv, cv}
	}
	return govC{g, cv}
}

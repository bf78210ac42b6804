package computemw

import (
	"context"
)

// contextRunner returns the provider's ContextRunner of g, or a clear
// error when the provider has none.
func (g *governed) contextRunner() (ContextRunner, error) {
	cr, ok := g.raw.(ContextRunner)
	if !ok {
		return nil, Unsupported(g.raw.Provider(), "code contexts")
	}
	return cr, nil
}

// createContext starts a code context, authorized as an execution of its
// language (so that a role limited to some languages is held to them).
func (g *governed) createContext(ctx context.Context, opts ContextOptions) (CodeContext, error) {
	cr, err := g.contextRunner()
	if err != nil {
		return CodeContext{}, err
	}
	if opts.Language == "" {
		return CodeContext{}, Errorf(CodeBadRequest, "field \"language\" is required")
	}
	if err := ValidateEnv(opts.Env); err != nil {
		return CodeContext{}, err
	}
	ctx, err = g.k.ensureAdmitted(ctx, OpExecute)
	if err != nil {
		return CodeContext{}, err
	}
	if err := g.k.authorize(ctx, g.action(OpExecute, opts.Language, 0)); err != nil {
		return CodeContext{}, err
	}
	if p, perr := g.k.provider(g.raw.Provider()); perr == nil {
		if err := checkLanguage(p, opts.Language); err != nil {
			return CodeContext{}, err
		}
	}
	return cr.CreateContext(ctx, opts)
}

// runInContext runs code in a context as a governed execution of the
// context's language: authorized, limited and reported like RunCode.
func (g *governed) runInContext(ctx context.Context, id, code string, opts ExecOptions) (*ContextResult, error) {
	cr, err := g.contextRunner()
	if err != nil {
		return nil, err
	}
	if len(code) > MaxContextCodeBytes {
		return nil, Errorf(CodePayloadTooLarge, "code exceeds %d bytes", MaxContextCodeBytes)
	}
	cc, err := g.findContext(ctx, cr, id)
	if err != nil {
		return nil, err
	}
	var out *ContextResult
	_, err = g.run(ctx, g.action(OpExecute, cc.Language, opts.Timeout), opts, func(ctx context.Context, opts ExecOptions) (*Result, error) {
		res, err := cr.RunInContext(ctx, id, code, opts)
		out = res
		if res == nil {
			return nil, err
		}
		return &res.Result, err
	})
	if out != nil {
		// The kit set where it ran on the embedded Result.
		return out, err
	}
	return nil, err
}

// findContext returns context id of the sandbox, or NOT_FOUND.
func (g *governed) findContext(ctx context.Context, cr ContextRunner, id string) (CodeContext, error) {
	list, err := cr.Contexts(ctx)
	if err != nil {
		return CodeContext{}, err
	}
	for _, c := range list {
		if c.ID == id {
			return c, nil
		}
	}
	return CodeContext{}, Errorf(CodeNotFound, "no context %q in sandbox %s", id, g.raw.ID())
}

// contexts lists the sandbox's code contexts, authorized like an
// execution.
func (g *governed) contexts(ctx context.Context) ([]CodeContext, error) {
	cr, err := g.contextRunner()
	if err != nil {
		return nil, err
	}
	if ctx, err = g.authorizeOp(ctx, OpExecute); err != nil {
		return nil, err
	}
	return cr.Contexts(ctx)
}

// manageContext authorizes an operation on context id (interrupt,
// restart, delete) like an execution, then does it.
func (g *governed) manageContext(ctx context.Context, id string, op func(ContextRunner, context.Context, string) error) error {
	cr, err := g.contextRunner()
	if err != nil {
		return err
	}
	if ctx, err = g.authorizeOp(ctx, OpExecute); err != nil {
		return err
	}
	return op(cr, ctx, id)
}

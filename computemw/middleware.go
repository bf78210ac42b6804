package computemw

import (
	"context"
)

// MiddlewareOptions configure the sandbox-per-request middleware of every
// adapter.
type MiddlewareOptions struct {
	// Provider names the provider; "" is the kit's default.
	Provider string
	// Create configures each request's sandbox.
	Create CreateOptions
}

// EnterRequest is the framework-neutral body of every adapter's sandbox
// middleware. It assigns the request ID, creates the request's sandbox and
// returns a context carrying both and a release function that destroys the
// sandbox. r needs only Method, Header and RemoteAddr. The adapter calls release
// with defer, so it runs after the handler however it ends: normal return,
// error, panic, or client disconnect.
//
// Policies run first (Admit on the headers, then Authorize for an
// [OpMiddleware] action), so an unauthenticated request creates nothing.
// The response headers the kit wants set (X-Request-ID, rate-limit
// headers) are in [ResponseHeader] of the returned context, also on error.
func (k *Kit) EnterRequest(ctx context.Context, r *Request, opts MiddlewareOptions) (context.Context, func(), error) {
	ctx, _ = BeginRequest(ctx, r.Header)
	ctx = withOp(ctx, OpMiddleware)
	if r.RemoteAddr != "" {
		ctx = WithRemoteAddr(ctx, r.RemoteAddr)
	}
	nop := func() {}
	ctx, err := k.admit(ctx, OpMiddleware, r)
	if err != nil {
		return ctx, nop, err
	}
	p, err := k.Provider(opts.Provider)
	if err != nil {
		return ctx, nop, err
	}
	a := &Action{Op: OpMiddleware, Provider: p.Name(), Timeout: k.cfg.DefaultTimeout, Create: opts.Create}
	if err := k.authorize(ctx, a); err != nil {
		return ctx, nop, err
	}
	sb, release, err := k.Acquire(ctx, a.Provider, a.Create)
	if err != nil {
		return ctx, release, k.notRun(ctx, a, err)
	}
	return WithSandbox(ctx, sb), release, nil
}

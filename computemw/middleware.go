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
// middleware. It admits the caller ([Kit.Admit]), creates the request's
// sandbox and returns a context carrying both and a release function that
// destroys the sandbox. r needs only Method, Header and RemoteAddr. The
// adapter calls release with defer, so it runs after the handler however it
// ends: normal return, error, panic, or client disconnect.
//
// Policies run first (Admit on the headers, then Authorize for an
// [OpMiddleware] action that creates a sandbox), so an unauthenticated
// request creates nothing. The sandbox is governed: each execution, file
// operation and terminal in the handler is authorized (the role's time
// limit, the quota's reservation), counted and logged like a route's. The
// response headers the kit wants set (X-Request-ID, rate-limit headers)
// are in [ResponseHeader] of the returned context, also on error.
func (k *Kit) EnterRequest(ctx context.Context, r *Request, opts MiddlewareOptions) (context.Context, func(), error) {
	nop := func() {}
	ctx, err := k.Admit(ctx, OpMiddleware, r)
	if err != nil {
		return ctx, nop, err
	}
	g, err := k.createFor(ctx, OpMiddleware, opts.Provider, opts.Create)
	if err != nil {
		return ctx, nop, err
	}
	return withSandbox(ctx, g), k.releaser(ctx, g), nil
}

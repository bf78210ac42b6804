package httpapi

import (
	"context"

	"github.com/computemw/kit/computemw"
)

// MiddlewareOptions configure the sandbox-per-request middleware of every
// adapter.
type MiddlewareOptions struct {
	// Provider names the provider; "" is the kit's default.
	Provider string
	// Create configures each request's sandbox.
	Create computemw.CreateOptions
}

// EnterRequest is the framework-neutral body of every adapter's sandbox
// middleware. It admits the caller ([computemw.Kit.Admit]), creates the request's
// sandbox and returns a context carrying both and a release function that
// destroys the sandbox. r needs only Method, Header and RemoteAddr. The
// adapter calls release with defer, so it runs after the handler however it
// ends: normal return, error, panic, or client disconnect.
//
// Policies run first (Admit on the headers, then Authorize for an
// [computemw.OpMiddleware] action that creates a sandbox), so an unauthenticated
// request creates nothing. The sandbox is governed: each execution, file
// operation and terminal in the handler is authorized (the role's time
// limit, the quota's reservation), counted and logged like a route's. The
// response headers the kit wants set (X-Request-ID, rate-limit headers)
// are in [computemw.ResponseHeader] of the returned context, also on error.
func (k *API) EnterRequest(ctx context.Context, r *computemw.Request, opts MiddlewareOptions) (context.Context, func(), error) {
	nop := func() {}
	ctx, err := k.kit.Admit(ctx, computemw.OpMiddleware, r)
	if err != nil {
		return ctx, nop, err
	}
	sb, release, err := k.kit.Acquire(ctx, opts.Provider, opts.Create)
	if err != nil {
		return ctx, nop, err
	}
	return computemw.WithSandbox(ctx, sb), release, nil
}

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
// returns a context carrying both, the ID (to echo in X-Request-ID), and a
// release function that destroys the sandbox. The adapter calls release
// with defer, so it runs after the handler however it ends: normal return,
// error, panic, or client disconnect.
func (k *Kit) EnterRequest(ctx context.Context, h Header, opts MiddlewareOptions) (context.Context, string, func(), error) {
	ctx, id := BeginRequest(ctx, h)
	sb, release, err := k.Acquire(ctx, opts.Provider, opts.Create)
	if err != nil {
		return ctx, id, release, err
	}
	return WithSandbox(ctx, sb), id, release, nil
}

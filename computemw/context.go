package computemw

import "context"

// contextKey is the type of the kit's context keys; its pointer values make
// collisions with other packages impossible.
type contextKey struct{ name string }

var (
	sandboxKey   = &contextKey{"sandbox"}
	requestIDKey = &contextKey{"request-id"}
	opKey        = &contextKey{"op"}
)

func withOp(ctx context.Context, op Op) context.Context { return context.WithValue(ctx, opKey, op) }

// opFrom returns the operation the request performs, or "".
func opFrom(ctx context.Context) Op {
	op, _ := ctx.Value(opKey).(Op)
	return op
}

// WithSandbox returns a context carrying the request's sandbox, which
// [SandboxFrom] returns and executions and file operations of the request
// use instead of making one of their own: an adapter's middleware puts
// there the sandbox [Kit.Acquire] made for the request. Only a sandbox the
// kit made is kept; ctx is returned unchanged for any other.
func WithSandbox(ctx context.Context, sb Sandbox) context.Context {
	g := governedOf(sb)
	if g == nil {
		return ctx
	}
	return context.WithValue(ctx, sandboxKey, g)
}

// SandboxFrom returns the request's sandbox, or nil when no sandbox
// middleware ran: the Go form of Express's req.sandbox.
func SandboxFrom(ctx context.Context) Sandbox {
	if g := governedFrom(ctx); g != nil {
		return g.view()
	}
	return nil
}

func governedFrom(ctx context.Context) *governed {
	g, _ := ctx.Value(sandboxKey).(*governed)
	return g
}

// withRequestID returns a context carrying the request ID.
func withRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestIDFrom returns the request ID, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

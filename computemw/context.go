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

// OpFrom returns the operation the request performs, or "".
func OpFrom(ctx context.Context) Op {
	op, _ := ctx.Value(opKey).(Op)
	return op
}

// WithSandbox returns a context carrying sb; adapters' middleware use it.
func WithSandbox(ctx context.Context, sb Sandbox) context.Context {
	return context.WithValue(ctx, sandboxKey, sb)
}

// SandboxFrom returns the request's sandbox, or nil when no sandbox
// middleware ran. It is the Go form of the seed's req.sandbox.
func SandboxFrom(ctx context.Context) Sandbox {
	sb, _ := ctx.Value(sandboxKey).(Sandbox)
	return sb
}

// WithRequestID returns a context carrying the request ID.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestIDFrom returns the request ID, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

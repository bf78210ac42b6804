package computemw

import "context"

// Principal is the authenticated caller of a request.
type Principal struct {
	// ID identifies the caller (a JWT's subject, an API key's owner).
	ID string
	// Role selects the caller's permissions.
	Role string
	// Plan selects the caller's rate limits and quotas ("free", "pro",
	// "enterprise", ...).
	Plan string
}

var principalKey = &contextKey{"principal"}

// WithPrincipal returns a context carrying the authenticated caller.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey, p)
}

// PrincipalFrom returns the request's authenticated caller, if any.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey).(Principal)
	return p, ok
}

// principalID is the caller's ID for logs, or "".
func principalID(ctx context.Context) string {
	p, _ := PrincipalFrom(ctx)
	return p.ID
}

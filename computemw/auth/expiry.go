package auth

import (
	"context"
	"time"

	"github.com/computemw/kit/computemw"
)

// A WebSocket connection is admitted at its upgrade, and again for every
// message that creates a sandbox, runs code or opens a terminal, with the
// connection's context, which carries the principal set at the upgrade.
// So that the connection does not outlive its token, the Authenticator
// records the token's expiry next to the principal and checks it again
// whenever that context comes back.

type contextKey struct{ name string }

var expiryKey = &contextKey{"token-expiry"}

// tokenExpiry is what a verified token leaves in the context: the
// principal it established, its "exp", and the Authenticator that
// verified it.
type tokenExpiry struct {
	by  *Authenticator
	p   computemw.Principal
	exp time.Time
}

// withExpiry records that p holds until exp.
func (a *Authenticator) withExpiry(ctx context.Context, p computemw.Principal, exp time.Time) context.Context {
	return context.WithValue(ctx, expiryKey, tokenExpiry{by: a, p: p, exp: exp})
}

// expired reports whether p, the principal of ctx, came from a token that
// a verified and that has expired since (leeway included). A principal
// the application set itself has no recorded expiry and never expires
// here.
func (a *Authenticator) expired(ctx context.Context, p computemw.Principal) bool {
	e, ok := ctx.Value(expiryKey).(tokenExpiry)
	if !ok || e.by != a || e.p != p {
		return false
	}
	return !a.now().Before(e.exp.Add(a.leeway))
}

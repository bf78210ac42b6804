package httpapi

import (
	"context"
	"net/http"

	"github.com/computemw/kit/computemw"
)

// handleUsage serves GET /usage: the caller's own usage. It is 401 (with
// the authenticator's challenge) without an authenticated caller, and 404
// when no policy tracks usage, or when no authentication is configured (so
// there is no caller to count for).
func (k *API) handleUsage(ctx context.Context, _ *computemw.Request) (*Response, error) {
	p, ok := computemw.PrincipalFrom(ctx)
	if (!ok || p.ID == "") && !k.authenticates() {
		return nil, &computemw.Error{Code: computemw.CodeNotFound,
			Message: "usage is counted per caller, and no authentication is configured: add an authenticator (computemw/auth) to Config.Policies"}
	}
	if !ok || p.ID == "" {
		if h := computemw.ResponseHeader(ctx); h != nil && h.Get("WWW-Authenticate") == "" {
			for _, pol := range k.cfg.Policies {
				if c, ok := pol.(Challenger); ok {
					h.Set("WWW-Authenticate", c.Challenge())
					break
				}
			}
		}
		return nil, &computemw.Error{Code: computemw.CodeUnauthorized, Message: "authentication required"}
	}
	for _, pol := range k.cfg.Policies {
		if r, ok := pol.(UsageReporter); ok {
			rep, err := r.ReportUsage(ctx, p)
			if err != nil {
				return nil, err
			}
			return JSON(http.StatusOK, rep)
		}
	}
	return nil, &computemw.Error{Code: computemw.CodeNotFound, Message: "usage tracking is not configured"}
}

// authenticates reports whether a policy authenticates callers: one that
// gives a challenge for a 401.
func (k *API) authenticates() bool {
	for _, pol := range k.cfg.Policies {
		if _, ok := pol.(Challenger); ok {
			return true
		}
	}
	return false
}

// UsageReporter is implemented by policies that track usage, such as
// quota.Quota; GET /usage answers with the report of the first one in
// computemw.Config.Policies (a policy implements it by having the method).
type UsageReporter interface {
	// ReportUsage returns p's usage, as a value that marshals to JSON.
	ReportUsage(ctx context.Context, p computemw.Principal) (any, error)
}

// Challenger is implemented by authentication policies: Challenge returns
// the WWW-Authenticate value that a 401 of the kit's own (such as GET
// /usage without credentials) carries; the first policy that has the
// method gives it.
type Challenger interface {
	Challenge() string
}

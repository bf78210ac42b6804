package computemw

import (
	"context"
	"net/http"
)

// UsageReporter is implemented by policies that track usage, such as
// quota.Quota; GET /usage answers with the report of the first one in
// Config.Policies.
type UsageReporter interface {
	// ReportUsage returns p's usage, as a value that marshals to JSON.
	ReportUsage(ctx context.Context, p Principal) (any, error)
}

// handleUsage serves GET /usage: the caller's own usage. It is 401 (with
// the authenticator's challenge) without an authenticated caller, and 404
// when no policy tracks usage.
func (k *Kit) handleUsage(ctx context.Context, _ *Request) (*Response, error) {
	p, ok := PrincipalFrom(ctx)
	if !ok || p.ID == "" {
		if h := ResponseHeader(ctx); h != nil && h.Get("WWW-Authenticate") == "" {
			for _, pol := range k.cfg.Policies {
				if c, ok := pol.(Challenger); ok {
					h.Set("WWW-Authenticate", c.Challenge())
					break
				}
			}
		}
		return nil, &Error{Code: CodeUnauthorized, Message: "authentication required"}
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
	return nil, &Error{Code: CodeNotFound, Message: "usage tracking is not configured"}
}

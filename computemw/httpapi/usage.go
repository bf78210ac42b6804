package httpapi

import (
	"context"
	"net/http"

	"github.com/computemw/kit/computemw"
)

// handleUsage serves GET /usage: the caller's own usage. It is 401 (with
// the authenticator's challenge) without an authenticated caller, and 404
// when no policy tracks usage.
func (k *API) handleUsage(ctx context.Context, _ *computemw.Request) (*Response, error) {
	p, ok := computemw.PrincipalFrom(ctx)
	if !ok || p.ID == "" {
		if h := computemw.ResponseHeader(ctx); h != nil && h.Get("WWW-Authenticate") == "" {
			for _, pol := range k.cfg.Policies {
				if c, ok := pol.(computemw.Challenger); ok {
					h.Set("WWW-Authenticate", c.Challenge())
					break
				}
			}
		}
		return nil, &computemw.Error{Code: computemw.CodeUnauthorized, Message: "authentication required"}
	}
	for _, pol := range k.cfg.Policies {
		if r, ok := pol.(computemw.UsageReporter); ok {
			rep, err := r.ReportUsage(ctx, p)
			if err != nil {
				return nil, err
			}
			return JSON(http.StatusOK, rep)
		}
	}
	return nil, &computemw.Error{Code: computemw.CodeNotFound, Message: "usage tracking is not configured"}
}

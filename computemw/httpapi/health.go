package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/computemw/kit/computemw"
)

// handleHealth serves GET /health: 200 when every provider answers its
// probe, else 503 with status "degraded".
func (k *API) handleHealth(ctx context.Context, _ *computemw.Request) (*Response, error) {
	rep := k.kit.Health(ctx)
	status := http.StatusOK
	if rep.Status != "healthy" {
		status = http.StatusServiceUnavailable
	}
	return JSON(status, rep)
}

// handleReady serves GET /ready: 200 {"status":"ready"}, or 503 UNAVAILABLE
// during shutdown.
func (k *API) handleReady(ctx context.Context, _ *computemw.Request) (*Response, error) {
	if !k.kit.Ready() {
		return nil, &computemw.Error{Code: computemw.CodeUnavailable, Message: "shutting down", RetryAfter: time.Second}
	}
	return JSON(http.StatusOK, map[string]string{"status": "ready"})
}

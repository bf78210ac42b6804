package httpapi

import (
	"bytes"
	"context"
	"net/http"

	"github.com/computemw/kit/computemw"
)

// maxMetricsBytes bounds the body of GET /metrics.
const maxMetricsBytes = 16 << 20

// handleMetrics serves GET /metrics in the route group from
// Config.Metrics, so that frameworks without net/http (Fiber) expose it
// too.
func (k *API) handleMetrics(ctx context.Context, r *computemw.Request) (*Response, error) {
	if k.cfg.Metrics == nil {
		return nil, computemw.Errorf(computemw.CodeNotFound, "metrics are not configured")
	}
	if err := k.kit.Authorize(ctx, computemw.OpMetrics); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "/metrics", nil)
	if err != nil {
		return nil, err
	}
	if r.Header != nil {
		if v := r.Header.Get("Accept"); v != "" {
			req.Header.Set("Accept", v)
		}
	}
	rec := &recorder{header: make(http.Header, 2), status: http.StatusOK}
	k.cfg.Metrics.ServeHTTP(rec, req)
	return &Response{Status: rec.status, Header: rec.header, Body: rec.body.Bytes()}, nil
}

// recorder is an in-memory http.ResponseWriter for one bounded response.
type recorder struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.wrote = true
	if r.body.Len()+len(p) > maxMetricsBytes {
		return 0, computemw.ErrTooLarge
	}
	return r.body.Write(p)
}

package computemw

import (
	"net/http"
)

// MetricsExporter observes the kit as [Hooks] and serves what it measured
// over HTTP, such as prommetrics.Metrics (Prometheus). Set in
// Config.Metrics, it is registered as hooks and served at GET /metrics of
// the route group, on every framework.
type MetricsExporter interface {
	Hooks
	http.Handler
}

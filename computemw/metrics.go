package computemw

import (
	"net/http"
)

// MetricsExporter observes the kit through its [Hooks] and serves what it
// measured over HTTP, such as prommetrics.Metrics (Prometheus). Set in
// Config.Metrics, its hooks are registered and it is served at GET
// /metrics of the route group, on every framework.
type MetricsExporter interface {
	// Hooks returns the exporter's hooks, the same on every call.
	Hooks() *Hooks
	// Bind tells the exporter the kit it serves, before its first
	// request, so that it can create a series for every provider and
	// language at start: [New] calls it once, after the providers are
	// registered. An error fails New.
	Bind(k *Kit) error
	http.Handler
}

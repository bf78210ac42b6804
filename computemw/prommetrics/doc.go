// Package prommetrics exposes what a computemw kit does as Prometheus
// metrics. Its [Metrics] is a [computemw.MetricsExporter]: set it as
// Config.Metrics and the kit reports to it through its hooks, from every
// framework and transport, and serves it at GET /metrics of the route
// group. It is also an http.Handler, for a /metrics route of your own.
//
// # Wiring
//
//	metrics := prommetrics.New(prommetrics.Options{})
//	kit, err := computemw.New(computemw.Config{Providers: providers, Metrics: metrics})
//	if err != nil {
//		return err
//	}
//	computehttp.Mount(mux, "/api", kit)  // GET /api/metrics, under the kit's policies
//	mux.Handle("GET /metrics", metrics) // at the root too, where scrapers look (no policies)
//
// One Metrics serves one kit: computemw.New fails when it already serves
// another. To add the families to a registry of your own, pass it in
// Options.Registry.
//
// # The families
//
//	compute_executions_total{provider,language,status}      executions finished; status is success, failure,
//	                                                        timeout, resource, execution (could not run) or error
//	compute_execution_duration_seconds{provider,language}   wall-clock duration
//	compute_active_sandboxes                                sandboxes alive now
//	compute_active_connections                              event-stream and WebSocket clients connected now
//	compute_sandbox_create_duration_seconds{provider}       time to create a sandbox
//	compute_rejections_total{reason}                        refusals: auth, rate_limit, quota, capacity, other
//	compute_queue_depth, compute_queue_wait_seconds{outcome}
//	                                                        creations waiting at Config.MaxSandboxes
//	compute_warm_pool_ready, _target, _idle_bytes{provider}, compute_warm_pool_creates_total{provider,result}
//	compute_warm_pool_resets_total{provider,result}
//	                                                        warm pools (providers that report one)
//	compute_start_gate_slots, _running, _waiting, _waited_total, _extra_total{provider}
//	                                                        start gates (providers that report one)
//
// language is one of the languages the providers run, or "command" (an
// exec), "terminal" or "other". Every label value exists from the start
// at zero, so dashboards and alerts never meet an absent series, and label
// values come from these fixed sets: no client input can create a series.
//
// # Access and answers
//
// GET /metrics of the route group is the operation computemw.OpMetrics:
// under computemw/auth it needs credentials (or OpMetrics in
// auth.Config.PublicOps), and under computemw/rbac the CanReadMetrics
// permission (roles admin and monitor); a refusal is the policy's 401 or
// 403. Without Config.Metrics the route answers 404 NOT_FOUND. The root
// handler (ServeHTTP) applies no policy: protect that route yourself.
//
// # Configuration
//
// [Options].Registry receives the metrics; nil means a new registry of
// their own (never the global one) with the Go and process collectors.
// [Metrics.Registry] returns it, to register more collectors.
package prommetrics

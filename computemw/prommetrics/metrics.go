package prommetrics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/internal/outcome"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Label values beside the providers' languages.
const (
	LanguageCommand  = "command"  // an exec runs a command line, not a language
	LanguageTerminal = "terminal" // a terminal session
	LabelOther       = "other"    // a language no provider lists
)

// Rejection reasons of compute_rejections_total.
var reasons = []string{"auth", "rate_limit", "quota", "capacity", LabelOther}

// Options configure [New].
type Options struct {
	// Registry receives the metrics; nil means a new registry (never the
	// global one) with the Go and process collectors.
	Registry *prometheus.Registry
}

// Metrics are a kit's Prometheus metrics: compute_executions_total,
// compute_execution_duration_seconds, compute_active_sandboxes,
// compute_active_connections, compute_sandbox_create_duration_seconds,
// compute_rejections_total, the admission queue's compute_queue_depth and
// compute_queue_wait_seconds, the warm pools' compute_warm_pool_* and the
// start gates' compute_start_gate_*.
// One Metrics serves one kit.
type Metrics struct {
	hooks          *computemw.Hooks
	reg            *prometheus.Registry
	handler        http.Handler
	executions     *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	active         prometheus.Gauge
	connections    prometheus.Gauge
	createDuration *prometheus.HistogramVec
	rejections     *prometheus.CounterVec
	queue          *queueCollectors // set by Bind
	jobs           atomic.Pointer[jobCollectors]

	mu        sync.Mutex
	bound     bool
	providers map[string]bool
	languages map[string]bool
}

// New returns metrics on opts.Registry (or a new one).
func New(opts Options) *Metrics {
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	m := &Metrics{
		reg: reg,
		executions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "compute_executions_total",
			Help: "Executions finished, by provider, language and status (success, failure, timeout, resource, execution, error).",
		}, []string{"provider", "language", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "compute_execution_duration_seconds",
			Help:    "Wall-clock duration of executions.",
			Buckets: prometheus.ExponentialBucketsRange(0.001, 60, 16),
		}, []string{"provider", "language"}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "compute_active_sandboxes",
			Help: "Sandboxes alive now.",
		}),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "compute_active_connections",
			Help: "Streaming and WebSocket clients connected now.",
		}),
		createDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "compute_sandbox_create_duration_seconds",
			Help:    "Time to create a sandbox.",
			Buckets: prometheus.ExponentialBucketsRange(0.001, 60, 16),
		}, []string{"provider"}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "compute_rejections_total",
			Help: "Requests refused before execution, by reason (auth, rate_limit, quota, capacity, other).",
		}, []string{"reason"}),
		providers: map[string]bool{},
		languages: map[string]bool{LanguageCommand: true, LanguageTerminal: true, LabelOther: true},
	}
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	m.hooks = &computemw.Hooks{
		SandboxCreated:    m.SandboxCreated,
		SandboxDestroyed:  m.SandboxDestroyed,
		ExecutionFinished: m.ExecutionFinished,
		RequestRejected:   m.RequestRejected,
		ConnectionOpened:  m.ConnectionOpened,
		ConnectionClosed:  m.ConnectionClosed,
	}
	return m
}

// Hooks returns the hooks that feed the metrics (see
// [computemw.MetricsExporter]).
func (m *Metrics) Hooks() *computemw.Hooks { return m.hooks }

// Bind implements [computemw.MetricsExporter]: it registers the metrics with every
// label value of the kit's providers and languages at zero.
func (m *Metrics) Bind(k *computemw.Kit) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.bound {
		return errors.New("prommetrics: these metrics already serve a kit")
	}
	for _, name := range k.Providers() {
		m.providers[name] = true
		for _, l := range k.Languages(name) {
			m.languages[l] = true
		}
	}
	for p := range m.providers {
		m.createDuration.WithLabelValues(p)
		for l := range m.languages {
			m.duration.WithLabelValues(p, l)
			for _, s := range outcome.All() {
				m.executions.WithLabelValues(p, l, s)
			}
		}
	}
	for _, r := range reasons {
		m.rejections.WithLabelValues(r)
	}
	m.queue = newQueueCollectors(k)
	for _, c := range append([]prometheus.Collector{m.executions, m.duration, m.active, m.connections, m.createDuration, m.rejections}, m.queue.collectors()...) {
		if err := m.reg.Register(c); err != nil {
			return fmt.Errorf("prommetrics: %w", err)
		}
	}
	m.bound = true
	return nil
}

// Registry returns the registry the metrics are on.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ServeHTTP serves the registry in the Prometheus exposition format.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.handler.ServeHTTP(w, r) }

func (m *Metrics) providerLabel(p string) string {
	if m.providers[p] {
		return p
	}
	return LabelOther
}

func (m *Metrics) languageLabel(a *computemw.Action) string {
	switch {
	case a.Op == computemw.OpExec:
		return LanguageCommand
	case a.Op == computemw.OpTerminal:
		return LanguageTerminal
	case m.languages[a.Language]:
		return a.Language
	}
	return LabelOther
}

func rejectionReason(err error) string {
	switch computemw.AsError(err).Code {
	case computemw.CodeUnauthorized, computemw.CodeForbidden:
		return "auth"
	case computemw.CodeRateLimited:
		return "rate_limit"
	case computemw.CodeQuotaExceeded:
		return "quota"
	case computemw.CodeUnavailable:
		return "capacity"
	default:
		return LabelOther
	}
}

// SandboxCreated is the metrics' [computemw.Hooks].SandboxCreated.
func (m *Metrics) SandboxCreated(_ context.Context, sb computemw.Sandbox, took time.Duration) {
	m.active.Inc()
	m.createDuration.WithLabelValues(m.providerLabel(sb.Provider())).Observe(took.Seconds())
}

// SandboxDestroyed is the metrics' [computemw.Hooks].SandboxDestroyed.
func (m *Metrics) SandboxDestroyed(context.Context, computemw.Sandbox, error) { m.active.Dec() }

// ExecutionFinished is the metrics' [computemw.Hooks].ExecutionFinished.
func (m *Metrics) ExecutionFinished(_ context.Context, a *computemw.Action, res *computemw.Result, err error, took time.Duration) {
	p, l := m.providerLabel(a.Provider), m.languageLabel(a)
	m.executions.WithLabelValues(p, l, executionStatus(res, err)).Inc()
	m.duration.WithLabelValues(p, l).Observe(took.Seconds())
}

// RequestRejected is the metrics' [computemw.Hooks].RequestRejected.
func (m *Metrics) RequestRejected(_ context.Context, _ computemw.Op, _ *computemw.Action, err error) {
	m.rejections.WithLabelValues(rejectionReason(err)).Inc()
}

// ConnectionOpened is the metrics' [computemw.Hooks].ConnectionOpened.
func (m *Metrics) ConnectionOpened(context.Context, computemw.Op) { m.connections.Inc() }

// ConnectionClosed is the metrics' [computemw.Hooks].ConnectionClosed.
func (m *Metrics) ConnectionClosed(context.Context, computemw.Op) { m.connections.Dec() }

// executionStatus is the status label of an execution's outcome.
func executionStatus(res *computemw.Result, err error) string {
	if err != nil {
		return outcome.Of(true, 0, string(computemw.AsError(err).Code))
	}
	exit := 0
	if res != nil {
		exit = res.ExitCode
	}
	return outcome.Of(false, exit, "")
}

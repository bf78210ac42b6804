package computemw

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
)

// metrics are the kit's Prometheus metrics. Label values come from fixed
// sets (registered providers, their languages, the status and reason
// lists below), so no client input can create new series.
type metrics struct {
	NopHooks
	reg            *prometheus.Registry
	executions     *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	active         prometheus.Gauge
	connections    prometheus.Gauge
	createDuration *prometheus.HistogramVec
	rejections     *prometheus.CounterVec

	providers map[string]bool
	languages map[string]bool
}

// Execution statuses of compute_executions_total.
const (
	statusSuccess   = "success"   // exit code 0
	statusFailure   = "failure"   // ran, exited non-zero
	statusTimeout   = "timeout"   // TIMEOUT
	statusResource  = "resource"  // RESOURCE_ERROR
	statusExecution = "execution" // EXECUTION_ERROR: could not run
	statusError     = "error"     // anything else
	labelOther      = "other"
	languageCommand = "command" // /exec runs a command, not a language
)

func newMetrics(k *Kit, reg *prometheus.Registry) *metrics {
	m := &metrics{
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
		languages: map[string]bool{languageCommand: true},
	}
	for _, name := range k.providers.Names() {
		m.providers[name] = true
		p, _ := k.providers.Get(name)
		if ll, ok := p.(LanguageLister); ok {
			for _, l := range ll.Languages() {
				m.languages[l] = true
			}
		}
	}
	reg.MustRegister(m.executions, m.duration, m.active, m.connections, m.createDuration, m.rejections)
	return m
}

func (m *metrics) providerLabel(p string) string {
	if m.providers[p] {
		return p
	}
	return labelOther
}

func (m *metrics) languageLabel(a *Action) string {
	if a.Op == OpExec {
		return languageCommand
	}
	if m.languages[a.Language] {
		return a.Language
	}
	return labelOther
}

func executionStatus(res *Result, err error) string {
	if err == nil {
		if res != nil && res.ExitCode != 0 {
			return statusFailure
		}
		return statusSuccess
	}
	var e *Error
	if errors.As(err, &e) {
		switch e.Code {
		case CodeTimeout:
			return statusTimeout
		case CodeResource:
			return statusResource
		case CodeExecution:
			return statusExecution
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return statusTimeout
	}
	return statusError
}

func rejectionReason(err error) string {
	switch AsError(err).Code {
	case CodeUnauthorized, CodeForbidden:
		return "auth"
	case CodeRateLimited:
		return "rate_limit"
	case CodeQuotaExceeded:
		return "quota"
	case CodeUnavailable:
		return "capacity"
	default:
		return labelOther
	}
}

// SandboxCreated implements Hooks.
func (m *metrics) SandboxCreated(_ context.Context, sb Sandbox, took time.Duration) {
	m.active.Inc()
	m.createDuration.WithLabelValues(m.providerLabel(sb.Provider())).Observe(took.Seconds())
}

// SandboxDestroyed implements Hooks.
func (m *metrics) SandboxDestroyed(context.Context, Sandbox, error) { m.active.Dec() }

// ExecutionFinished implements Hooks.
func (m *metrics) ExecutionFinished(_ context.Context, a *Action, res *Result, err error, took time.Duration) {
	p, l := m.providerLabel(a.Provider), m.languageLabel(a)
	m.executions.WithLabelValues(p, l, executionStatus(res, err)).Inc()
	m.duration.WithLabelValues(p, l).Observe(took.Seconds())
}

// RequestRejected implements Hooks.
func (m *metrics) RequestRejected(_ context.Context, _ Op, err error) {
	m.rejections.WithLabelValues(rejectionReason(err)).Inc()
}

// Registry returns the Prometheus registry holding the kit's metrics (the
// one passed in Config.Registry, or the kit's own, which also has the Go
// and process collectors).
func (k *Kit) Registry() *prometheus.Registry { return k.metrics.reg }

// MetricsHandler serves the kit's registry in the Prometheus exposition
// format, for mounting at /metrics outside the route group.
func (k *Kit) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(k.metrics.reg, promhttp.HandlerOpts{ErrorLog: slogPrinter{k}})
}

// TrackConnection counts a streaming or WebSocket client in
// compute_active_connections until the returned function is called.
func (k *Kit) TrackConnection() (done func()) {
	k.metrics.connections.Inc()
	return k.metrics.connections.Dec
}

// handleMetrics serves GET /metrics in the route group, so frameworks
// without net/http (Fiber) expose it too.
func (k *Kit) handleMetrics(ctx context.Context, r *Request) (*Response, error) {
	mfs, err := k.metrics.reg.Gather()
	if err != nil {
		k.log.WarnContext(ctx, "computemw: gathering metrics", "error", err)
	}
	var accept string
	if r.Header != nil {
		accept = r.Header.Get("Accept")
	}
	format := expfmt.Negotiate(http.Header{"Accept": []string{accept}})
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, format)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return nil, err
		}
	}
	if c, ok := enc.(expfmt.Closer); ok {
		if err := c.Close(); err != nil {
			return nil, err
		}
	}
	h := make(http.Header, 2)
	h.Set("Content-Type", string(format))
	return &Response{Status: http.StatusOK, Header: h, Body: buf.Bytes()}, nil
}

type slogPrinter struct{ k *Kit }

func (p slogPrinter) Println(v ...any) { p.k.log.Error("computemw: metrics", "error", v) }

func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

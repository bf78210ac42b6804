package prommetrics

import (
	"context"

	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// jobCollectors are the job service's metrics: compute_jobs_queue_depth,
// compute_jobs_wait_seconds, compute_jobs_finished_total{verdict},
// compute_jobs_refused_total and compute_jobs_webhooks_total{outcome}.
type jobCollectors struct {
	depth    prometheus.GaugeFunc
	wait     prometheus.Histogram
	finished *prometheus.CounterVec
	refused  prometheus.Counter
	webhooks *prometheus.CounterVec
	attempts prometheus.Histogram
}

// jobVerdicts are the verdicts created at zero.
var jobVerdicts = []string{"accepted", "wrong_answer", "time_limit_exceeded", "memory_limit_exceeded",
	"runtime_error", "compilation_error", "internal_error", "cancelled"}

// ObserveJobQueue implements jobs.Observer: it registers the job metrics,
// the queue depth read from depth at each scrape.
func (m *Metrics) ObserveJobQueue(depth func(ctx context.Context) (int64, error)) {
	c := &jobCollectors{
		depth: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "compute_jobs_queue_depth",
			Help: "Jobs waiting for a worker now (in the queue every instance shares).",
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			n, err := depth(ctx)
			if err != nil {
				return -1
			}
			return float64(n)
		}),
		wait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "compute_jobs_wait_seconds",
			Help:    "Time from a job's submit to the start of its run.",
			Buckets: prometheus.ExponentialBucketsRange(0.001, 3600, 20),
		}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "compute_jobs_finished_total",
			Help: "Jobs finished on this instance, by verdict (or cancelled).",
		}, []string{"verdict"}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "compute_jobs_refused_total",
			Help: "Jobs refused at submit for the per-caller cap of unfinished jobs.",
		}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "compute_jobs_webhooks_total",
			Help: "Job callbacks by outcome (delivered, failed, refused).",
		}, []string{"outcome"}),
		attempts: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "compute_jobs_webhook_attempts",
			Help:    "Attempts each job callback took.",
			Buckets: []float64{1, 2, 3, 5, 8, 13},
		}),
	}
	for _, v := range jobVerdicts {
		c.finished.WithLabelValues(v)
	}
	for _, o := range []string{"delivered", "failed", "refused"} {
		c.webhooks.WithLabelValues(o)
	}
	if !m.jobs.CompareAndSwap(nil, c) {
		return
	}
	m.reg.MustRegister(c.depth, c.wait, c.finished, c.refused, c.webhooks, c.attempts)
}

// JobStarted implements jobs.Observer.
func (m *Metrics) JobStarted(waited time.Duration) {
	if c := m.jobs.Load(); c != nil {
		c.wait.Observe(waited.Seconds())
	}
}

// JobFinished implements jobs.Observer.
func (m *Metrics) JobFinished(verdict string) {
	if c := m.jobs.Load(); c != nil {
		c.finished.WithLabelValues(verdict).Inc()
	}
}

// JobsRefused implements jobs.Observer.
func (m *Metrics) JobsRefused(n int) {
	if c := m.jobs.Load(); c != nil {
		c.refused.Add(float64(n))
	}
}

// WebhookFinished implements jobs.Observer.
func (m *Metrics) WebhookFinished(outcome string, attempts int) {
	if c := m.jobs.Load(); c != nil {
		c.webhooks.WithLabelValues(outcome).Inc()
		if attempts > 0 {
			c.attempts.Observe(float64(attempts))
		}
	}
}

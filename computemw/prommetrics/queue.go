package prommetrics

import (
	"context"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/prometheus/client_golang/prometheus"
)

// queueCollectors are the admission queue's and warm pools' metrics:
// compute_queue_depth, compute_queue_wait_seconds,
// compute_warm_pool_ready, compute_warm_pool_target,
// compute_warm_pool_idle_bytes and compute_warm_pool_creates_total.
type queueCollectors struct {
	wait  *prometheus.HistogramVec
	depth prometheus.GaugeFunc
	pool  *poolCollector
}

func newQueueCollectors(k *computemw.Kit) *queueCollectors {
	q := &queueCollectors{
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "compute_queue_wait_seconds",
			Help:    "Time a sandbox creation (or a session that asked to wait) waited for a slot at capacity, by outcome (admitted, refused).",
			Buckets: prometheus.ExponentialBucketsRange(0.0005, 60, 16),
		}, []string{"outcome"}),
		depth: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "compute_queue_depth",
			Help: "Sandbox creations waiting for a slot now.",
		}, func() float64 { return float64(k.QueueDepth() + k.SessionWaiters()) }),
		pool: &poolCollector{k: k},
	}
	q.wait.WithLabelValues("admitted")
	q.wait.WithLabelValues("refused")
	return q
}

func (q *queueCollectors) collectors() []prometheus.Collector {
	return []prometheus.Collector{q.wait, q.depth, q.pool}
}

// SandboxQueued implements computemw.QueueObserver.
func (m *Metrics) SandboxQueued(_ context.Context, waited time.Duration, err error) {
	if m.queue == nil {
		return
	}
	outcome := "admitted"
	if err != nil {
		outcome = "refused"
	}
	m.queue.wait.WithLabelValues(outcome).Observe(waited.Seconds())
}

// poolCollector reads the providers' warm pools when scraped.
type poolCollector struct{ k *computemw.Kit }

var (
	poolReady   = prometheus.NewDesc("compute_warm_pool_ready", "Sandboxes ready in a provider's warm pool.", []string{"provider"}, nil)
	poolTarget  = prometheus.NewDesc("compute_warm_pool_target", "Sandboxes a provider's warm pool refills to now (it adapts to demand).", []string{"provider"}, nil)
	poolIdle    = prometheus.NewDesc("compute_warm_pool_idle_bytes", "Memory held by the ready sandboxes of a provider's warm pool.", []string{"provider"}, nil)
	poolCreates = prometheus.NewDesc("compute_warm_pool_creates_total", "Sandbox creates by whether the warm pool served them (hit) or not (miss).", []string{"provider", "result"}, nil)
)

// Describe implements prometheus.Collector.
func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolReady, poolTarget, poolIdle, poolCreates} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	for name, s := range c.k.PoolStats() {
		ch <- prometheus.MustNewConstMetric(poolReady, prometheus.GaugeValue, float64(s.Ready), name)
		ch <- prometheus.MustNewConstMetric(poolTarget, prometheus.GaugeValue, float64(s.Target), name)
		ch <- prometheus.MustNewConstMetric(poolIdle, prometheus.GaugeValue, float64(s.IdleBytes), name)
		ch <- prometheus.MustNewConstMetric(poolCreates, prometheus.CounterValue, float64(s.Hits), name, "hit")
		ch <- prometheus.MustNewConstMetric(poolCreates, prometheus.CounterValue, float64(s.Misses), name, "miss")
	}
}

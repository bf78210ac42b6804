package prommetrics

import (
	"context"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/prometheus/client_golang/prometheus"
)

// queueCollectors are the admission queue's, warm pools' and start
// gates' metrics: compute_queue_depth, compute_queue_wait_seconds,
// compute_warm_pool_ready, compute_warm_pool_target,
// compute_warm_pool_idle_bytes, compute_warm_pool_creates_total,
// compute_warm_pool_resets_total and
// compute_start_gate_*.
type queueCollectors struct {
	wait  *prometheus.HistogramVec
	depth prometheus.GaugeFunc
	pool  *poolCollector
	gate  *gateCollector
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
		}, func() float64 {
			st := k.Stats()
			return float64(st.Queued + st.SessionWaiters)
		}),
		pool: &poolCollector{k: k},
		gate: &gateCollector{k: k},
	}
	q.wait.WithLabelValues("admitted")
	q.wait.WithLabelValues("refused")
	return q
}

func (q *queueCollectors) collectors() []prometheus.Collector {
	return []prometheus.Collector{q.wait, q.depth, q.pool, q.gate}
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
	poolResets  = prometheus.NewDesc("compute_warm_pool_resets_total", "Used sandboxes reset for the warm pool, by whether the reset returned the sandbox (recycled) or destroyed it (failed).", []string{"provider", "result"}, nil)
)

// Describe implements prometheus.Collector.
func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolReady, poolTarget, poolIdle, poolCreates, poolResets} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	for name, s := range c.k.Stats().Pools {
		ch <- prometheus.MustNewConstMetric(poolReady, prometheus.GaugeValue, float64(s.Ready), name)
		ch <- prometheus.MustNewConstMetric(poolTarget, prometheus.GaugeValue, float64(s.Target), name)
		ch <- prometheus.MustNewConstMetric(poolIdle, prometheus.GaugeValue, float64(s.IdleBytes), name)
		ch <- prometheus.MustNewConstMetric(poolCreates, prometheus.CounterValue, float64(s.Hits), name, "hit")
		ch <- prometheus.MustNewConstMetric(poolCreates, prometheus.CounterValue, float64(s.Misses), name, "miss")
		ch <- prometheus.MustNewConstMetric(poolResets, prometheus.CounterValue, float64(s.Recycled), name, "recycled")
		ch <- prometheus.MustNewConstMetric(poolResets, prometheus.CounterValue, float64(s.ResetFailed), name, "failed")
	}
}

// gateCollector reads the providers' start gates when scraped.
type gateCollector struct{ k *computemw.Kit }

var (
	gateSlots   = prometheus.NewDesc("compute_start_gate_slots", "Executions a provider's start gate lets start at once while the CPUs are busy.", []string{"provider"}, nil)
	gateRunning = prometheus.NewDesc("compute_start_gate_running", "Executions holding a slot of a provider's start gate.", []string{"provider"}, nil)
	gateWaiting = prometheus.NewDesc("compute_start_gate_waiting", "Executions waiting at a provider's start gate.", []string{"provider"}, nil)
	gateWaited  = prometheus.NewDesc("compute_start_gate_waited_total", "Executions that waited at a provider's start gate.", []string{"provider"}, nil)
	gateExtra   = prometheus.NewDesc("compute_start_gate_extra_total", "Executions a provider's start gate let start beyond its slots because the CPUs had room.", []string{"provider"}, nil)
)

// Describe implements prometheus.Collector.
func (c *gateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{gateSlots, gateRunning, gateWaiting, gateWaited, gateExtra} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *gateCollector) Collect(ch chan<- prometheus.Metric) {
	for name, s := range c.k.Stats().StartGates {
		ch <- prometheus.MustNewConstMetric(gateSlots, prometheus.GaugeValue, float64(s.Slots), name)
		ch <- prometheus.MustNewConstMetric(gateRunning, prometheus.GaugeValue, float64(s.Running), name)
		ch <- prometheus.MustNewConstMetric(gateWaiting, prometheus.GaugeValue, float64(s.Waiting), name)
		ch <- prometheus.MustNewConstMetric(gateWaited, prometheus.CounterValue, float64(s.Waited), name)
		ch <- prometheus.MustNewConstMetric(gateExtra, prometheus.CounterValue, float64(s.Extra), name)
	}
}

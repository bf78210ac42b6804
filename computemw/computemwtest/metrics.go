package computemwtest

import (
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/prommetrics"
	"github.com/prometheus/client_golang/prometheus"
)

// Registry returns the Prometheus registry of kit's metrics (Config.Metrics
// must be a *prommetrics.Metrics, as [SuiteKit] sets it).
func Registry(t testing.TB, kit *computemw.Kit) *prometheus.Registry {
	t.Helper()
	m, ok := kit.Config().Metrics.(*prommetrics.Metrics)
	if !ok {
		t.Fatalf("kit's metrics are %T, not *prommetrics.Metrics", kit.Config().Metrics)
	}
	return m.Registry()
}

// MetricValue returns the value of the series of the metric family name
// whose labels include labels: a counter's or gauge's value, a histogram's
// sample count. It fails the test when there is no such series.
func MetricValue(t testing.TB, kit *computemw.Kit, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := Registry(t, kit).Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}

package prommetrics_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/fakeprovider"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/computemw/kit/computemw/internal/outcome"
	"github.com/computemw/kit/computemw/prommetrics"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// serve runs one request through the kit's route group, as an adapter does.
func serve(t testing.TB, kit *computemw.Kit, method, path, body string) *httpapi.Response {
	t.Helper()
	for _, rt := range httpapi.New(kit).Routes() {
		if rt.Path == path {
			return httpapi.New(kit).ServeRoute(context.Background(), rt, &computemw.Request{
				Method: method, Header: http.Header{"Content-Type": {"application/json"}}, Body: strings.NewReader(body),
			})
		}
	}
	t.Fatalf("no route %s", path)
	return nil
}

func counter(t *testing.T, kit *computemw.Kit, name string, labels map[string]string) float64 {
	t.Helper()
	return computemwtest.MetricValue(t, kit, name, labels)
}

func newKit(t *testing.T, cfg computemw.Config) (*computemw.Kit, *fakeprovider.Provider) {
	t.Helper()
	return computemwtest.SuiteKit(t, cfg)
}

func TestMetricsMoveWithRequests(t *testing.T) {
	kit, _ := newKit(t, computemw.Config{MaxSandboxes: 1, QueueTimeout: 50 * time.Millisecond})
	exec := func(status string, lang string) float64 {
		return counter(t, kit, "compute_executions_total", map[string]string{"provider": "fake", "language": lang, "status": status})
	}
	steps := []struct {
		path, body string
		status     string
		lang       string
		code       int
	}{
		{"/execute", `{"language":"python","code":"echo 1"}`, "success", "python", 200},
		{"/execute", `{"language":"python","code":"echo 2"}`, "success", "python", 200},
		{"/exec", `{"command":"exit 1"}`, "failure", "command", 200},
		{"/execute", `{"language":"bash","code":"sleep","timeout":10}`, "timeout", "bash", 408},
		{"/execute", `{"language":"node","code":"oom"}`, "resource", "node", 507},
		{"/exec", `{"command":"fail"}`, "error", "command", 500},
	}
	want := map[[2]string]float64{}
	for _, s := range steps {
		resp := serve(t, kit, "POST", s.path, s.body)
		if resp.Status != s.code {
			t.Fatalf("%s %s: %d %s", s.path, s.body, resp.Status, resp.Body)
		}
		want[[2]string{s.status, s.lang}]++
		for k, v := range want {
			if got := exec(k[0], k[1]); got != v {
				t.Fatalf("after %s: executions{%s,%s} = %v, want %v", s.body, k[0], k[1], got, v)
			}
		}
	}
	if got := counter(t, kit, "compute_execution_duration_seconds", map[string]string{"provider": "fake", "language": "python"}); got != 2 {
		t.Errorf("duration samples for python: %v", got)
	}
	if got := counter(t, kit, "compute_sandbox_create_duration_seconds", map[string]string{"provider": "fake"}); got != 6 {
		t.Errorf("create samples: %v", got)
	}
	// Validation failures are not executions and not rejections.
	serve(t, kit, "POST", "/execute", `{"language":"python"}`)
	if got := counter(t, kit, "compute_rejections_total", map[string]string{"reason": "capacity"}); got != 0 {
		t.Errorf("rejections after a validation error: %v", got)
	}
	// An unknown language from a client never becomes a label value: it
	// is counted as an execution that could not run, under "other".
	series := testutil.CollectAndCount(computemwtest.Registry(t, kit), "compute_executions_total")
	if resp := serve(t, kit, "POST", "/execute", `{"language":"brainfuck-`+strings.Repeat("x", 10)+`","code":"echo"}`); resp.Status != 400 {
		t.Fatalf("unknown language: %d", resp.Status)
	}
	if n := testutil.CollectAndCount(computemwtest.Registry(t, kit), "compute_executions_total"); n != series {
		t.Errorf("%d series after an unknown language, want %d", n, series)
	}
	if got := exec("execution", "other"); got != 1 {
		t.Errorf("executions{execution,other} = %v, want 1", got)
	}

	// Capacity rejections and the active gauge.
	sb, rel, err := kit.Acquire(context.Background(), "", computemw.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_ = sb
	if got := counter(t, kit, "compute_active_sandboxes", nil); got != 1 {
		t.Errorf("active sandboxes %v, want 1", got)
	}
	if resp := serve(t, kit, "POST", "/exec", `{"command":"echo x"}`); resp.Status != 503 {
		t.Fatalf("capacity: %d", resp.Status)
	}
	if got := counter(t, kit, "compute_queue_wait_seconds", map[string]string{"outcome": "refused"}); got != 1 {
		t.Errorf("refused queue waits %v, want 1", got)
	}
	if got := counter(t, kit, "compute_queue_depth", nil); got != 0 {
		t.Errorf("queue depth %v after the refusal, want 0", got)
	}
	if got := counter(t, kit, "compute_rejections_total", map[string]string{"reason": "capacity"}); got != 1 {
		t.Errorf("capacity rejections %v, want 1", got)
	}
	rel()
	if got := counter(t, kit, "compute_active_sandboxes", nil); got != 0 {
		t.Errorf("active sandboxes %v, want 0", got)
	}
}

func TestMetricsEndpointParsesAndLints(t *testing.T) {
	kit, _ := newKit(t, computemw.Config{})
	serve(t, kit, "POST", "/execute", `{"language":"python","code":"echo 1"}`)
	resp := serve(t, kit, "GET", "/metrics", "")
	if resp.Status != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("metrics: %d %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(bytes.NewReader(resp.Body))
	if err != nil {
		t.Fatalf("metrics output does not parse: %v", err)
	}
	for _, name := range []string{"compute_executions_total", "compute_execution_duration_seconds", "compute_active_sandboxes",
		"compute_active_connections", "compute_sandbox_create_duration_seconds", "compute_rejections_total",
		"go_goroutines", "process_cpu_seconds_total"} {
		if _, ok := mfs[name]; !ok {
			t.Errorf("metrics lack %s", name)
		}
	}
	problems, err := promlint.New(bytes.NewReader(resp.Body)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// A fresh kit's /metrics has every family and every label value at zero:
// each provider × language (with command, terminal, other) × status, and
// each rejection reason.
func TestMetricsFreshHasEveryLabelValue(t *testing.T) {
	kit, _ := newKit(t, computemw.Config{})
	resp := serve(t, kit, "GET", "/metrics", "")
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(bytes.NewReader(resp.Body))
	if err != nil {
		t.Fatal(err)
	}
	has := func(family string, labels map[string]string) bool {
		mf, ok := mfs[family]
		if !ok {
			return false
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			return true
		}
		return false
	}
	langs := append(kit.Languages("fake"), "command", "terminal", "other")
	for _, l := range langs {
		for _, s := range outcome.All() {
			if !has("compute_executions_total", map[string]string{"provider": "fake", "language": l, "status": s}) {
				t.Errorf("no compute_executions_total{fake,%s,%s}", l, s)
			}
		}
		if !has("compute_execution_duration_seconds", map[string]string{"provider": "fake", "language": l}) {
			t.Errorf("no compute_execution_duration_seconds{fake,%s}", l)
		}
	}
	for _, r := range []string{"auth", "rate_limit", "quota", "capacity", "other"} {
		if !has("compute_rejections_total", map[string]string{"reason": r}) {
			t.Errorf("no compute_rejections_total{%s}", r)
		}
	}
	for _, f := range []string{"compute_active_sandboxes", "compute_active_connections", "compute_sandbox_create_duration_seconds"} {
		if !has(f, nil) {
			t.Errorf("no %s", f)
		}
	}
}

// One Metrics serves one kit: binding it to a second is an error at New.
func TestMetricsServeOneKit(t *testing.T) {
	m := prommetrics.New(prommetrics.Options{})
	computemwtest.SuiteKit(t, computemw.Config{Metrics: m})
	_, err := computemw.New(computemw.Config{Providers: []computemw.Provider{fakeprovider.New("other")}, Metrics: m})
	if err == nil {
		t.Fatal("a second kit on the same metrics was accepted")
	}
}

// reporting is a provider with a warm pool and a start gate to report.
type reporting struct{ *fakeprovider.Provider }

func (reporting) PoolStats() computemw.PoolStats {
	return computemw.PoolStats{Ready: 3, Target: 8, Hits: 5, Misses: 2, IdleBytes: 1 << 20, Recycled: 4, ResetFailed: 1}
}

func (reporting) StartGateStats() computemw.StartGateStats {
	return computemw.StartGateStats{Slots: 2, Running: 3, Waiting: 4, Waited: 7, Extra: 1}
}

// A provider's warm pool and start gate are read when scraped; a provider
// without them has no series, and the families lint clean.
func TestMetricsPoolAndStartGate(t *testing.T) {
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{reporting{fakeprovider.New("fake")}}, Metrics: prommetrics.New(prommetrics.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kit.Close(context.Background()) })
	fake := map[string]string{"provider": "fake"}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"compute_warm_pool_ready", fake, 3},
		{"compute_warm_pool_target", fake, 8},
		{"compute_warm_pool_idle_bytes", fake, 1 << 20},
		{"compute_warm_pool_creates_total", map[string]string{"provider": "fake", "result": "hit"}, 5},
		{"compute_warm_pool_creates_total", map[string]string{"provider": "fake", "result": "miss"}, 2},
		{"compute_warm_pool_resets_total", map[string]string{"provider": "fake", "result": "recycled"}, 4},
		{"compute_warm_pool_resets_total", map[string]string{"provider": "fake", "result": "failed"}, 1},
		{"compute_start_gate_slots", fake, 2},
		{"compute_start_gate_running", fake, 3},
		{"compute_start_gate_waiting", fake, 4},
		{"compute_start_gate_waited_total", fake, 7},
		{"compute_start_gate_extra_total", fake, 1},
	} {
		if got := counter(t, kit, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	resp := serve(t, kit, "GET", "/metrics", "")
	problems, err := promlint.New(bytes.NewReader(resp.Body)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}

	plain, _ := newKit(t, computemw.Config{})
	for _, name := range []string{"compute_warm_pool_ready", "compute_start_gate_slots"} {
		if n := testutil.CollectAndCount(computemwtest.Registry(t, plain), name); n != 0 {
			t.Errorf("a provider without a pool or gate has %d %s series", n, name)
		}
	}
}

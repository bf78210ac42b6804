package computehttp_test

import (
	"net/http"
	"testing"

	"github.com/computemw/kit/adapters/internal/harness"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, harness.LeakOptions()...) }

func TestAdapterSuite(t *testing.T) {
	computemwtest.AdapterSuite(t, computemwtest.Harness{Name: "net/http", Start: harness.NetHTTP})
}

// The benchmarks serve requests through the mux's ServeHTTP. The
// middleware's own cost is BenchmarkMiddleware − BenchmarkBare; the
// adapter's share of it is that minus the core's BenchmarkCore (in package
// adapters).

func BenchmarkBare(b *testing.B) {
	kit, _ := computemwtest.SuiteKit(b, computemw.Config{})
	harness.BenchHTTP(b, harness.NetHTTPHandler(kit), http.MethodGet, harness.BarePath, "")
}

func BenchmarkMiddleware(b *testing.B) {
	kit, _ := computemwtest.SuiteKit(b, computemw.Config{})
	harness.BenchHTTP(b, harness.NetHTTPHandler(kit), http.MethodGet, harness.MiddlewarePath, "")
}

func BenchmarkBareExec(b *testing.B) {
	kit, _ := computemwtest.SuiteKit(b, computemw.Config{})
	harness.BenchHTTP(b, harness.NetHTTPHandler(kit), http.MethodPost, harness.BareExecPath, harness.ExecBody)
}

func BenchmarkRouteExec(b *testing.B) {
	kit, _ := computemwtest.SuiteKit(b, computemw.Config{})
	harness.BenchHTTP(b, harness.NetHTTPHandler(kit), http.MethodPost, computemwtest.Prefix+"/exec", harness.ExecBody)
}

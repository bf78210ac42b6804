package computegin_test

import (
	"context"
	"net/http"
	"testing"

	computegin "github.com/computemw/kit/adapters/gin"
	"github.com/computemw/kit/adapters/internal/harness"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/gin-gonic/gin"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, harness.LeakOptions()...) }

func TestAdapterSuite(t *testing.T) {
	computemwtest.AdapterSuite(t, computemwtest.Harness{Name: "gin", Start: harness.Gin})
}

// computegin.Error writes the kit's error directly, and ErrorHandler never
// writes a second response over one a handler already started.
func TestErrorWriters(t *testing.T) {
	kit, _ := computemwtest.SuiteKit(t, computemw.Config{})
	r := harness.GinEngine(kit)
	r.GET("/direct", func(c *gin.Context) {
		computegin.Error(c, kit, computemwtest.SuiteError())
	})
	r.GET("/written", func(c *gin.Context) {
		c.String(http.StatusAccepted, "done")
		_ = c.Error(computemwtest.SuiteError())
	})
	base := harness.ServeHTTP(t, r)
	rep := computemwtest.Do(t, context.Background(), http.MethodGet, base+"/direct", "", nil)
	if rep.Status != 429 || rep.Code() != "RATE_LIMITED" || rep.Body["requestId"] == "" || rep.Header.Get("Retry-After") != "3" {
		t.Errorf("direct: %d %v %s", rep.Status, rep.Header, rep.Raw)
	}
	rep = computemwtest.Do(t, context.Background(), http.MethodGet, base+"/written", "", nil)
	if rep.Status != http.StatusAccepted || string(rep.Raw) != "done" {
		t.Errorf("written: %d %s", rep.Status, rep.Raw)
	}
}

// The benchmarks serve requests through engine.ServeHTTP. The middleware's
// own cost is BenchmarkMiddleware − BenchmarkBare; the adapter's share of it
// is that minus the core's BenchmarkCore (in package adapters).

func BenchmarkBare(b *testing.B) {
	kit, _ := computemwtest.SuiteKit(b, computemw.Config{})
	harness.BenchHTTP(b, harness.GinEngine(kit), http.MethodGet, harness.BarePath, "")
}

func BenchmarkMiddleware(b *testing.B) {
	kit, _ := computemwtest.SuiteKit(b, computemw.Config{})
	harness.BenchHTTP(b, harness.GinEngine(kit), http.MethodGet, harness.MiddlewarePath, "")
}

func BenchmarkBareExec(b *testing.B) {
	kit, _ := computemwtest.SuiteKit(b, computemw.Config{})
	harness.BenchHTTP(b, harness.GinEngine(kit), http.MethodPost, harness.BareExecPath, harness.ExecBody)
}

func BenchmarkRouteExec(b *testing.B) {
	kit, _ := computemwtest.SuiteKit(b, computemw.Config{})
	harness.BenchHTTP(b, harness.GinEngine(kit), http.MethodPost, computemwtest.Prefix+"/exec", harness.ExecBody)
}

package computegin_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	computegin "github.com/computemw/kit/adapters/computegin"
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

// Errors of Gin's own binding are the client's: 400 BAD_REQUEST with the
// kit's body, whether pushed with c.Error after ShouldBindJSON or raised by
// c.BindJSON — not a logged 500.
func TestBindingErrorsAreBadRequests(t *testing.T) {
	kit, _ := computemwtest.SuiteKit(t, computemw.Config{})
	r := gin.New()
	r.Use(computegin.ErrorHandler(kit))
	type body struct {
		Code string `json:"code" binding:"required"`
	}
	r.POST("/should", func(c *gin.Context) {
		var b body
		if err := c.ShouldBindJSON(&b); err != nil {
			_ = c.Error(err)
			return
		}
		c.Status(http.StatusNoContent)
	})
	r.POST("/must", func(c *gin.Context) {
		var b body
		if c.BindJSON(&b) == nil {
			c.Status(http.StatusNoContent)
		}
	})
	for _, path := range []string{"/should", "/must"} {
		for _, in := range []string{`{}`, `{"code":`, ``, `{"code":1}`} {
			req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(in))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			if rec.Code != 400 || !strings.Contains(rec.Body.String(), `"code":"BAD_REQUEST"`) {
				t.Errorf("%s %q: %d %s", path, in, rec.Code, rec.Body)
			}
		}
	}
}

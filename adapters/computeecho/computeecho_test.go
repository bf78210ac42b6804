package computeecho_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/computemw/kit/adapters/internal/harness"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, harness.LeakOptions()...) }

func TestAdapterSuite(t *testing.T) {
	computemwtest.AdapterSuite(t, computemwtest.Harness{Name: "echo", Start: harness.Echo})
}

// With echo's own error handler instead of computeecho.HTTPErrorHandler, a
// failure to create the request's sandbox still has the kit's status, and
// its message is the client-safe one.
func TestDefaultHTTPErrorHandler(t *testing.T) {
	for _, c := range []struct {
		name   string
		err    error
		status int
		msg    string
	}{
		{"unavailable", &computemw.Error{Code: computemw.CodeUnavailable, Message: "provider down"}, 503, "provider down"},
		{"internal", &computemw.Error{Code: computemw.CodeInternal, Message: "secret /var/lib/x"}, 500, "internal server error"},
	} {
		t.Run(c.name, func(t *testing.T) {
			kit, fake := computemwtest.SuiteKit(t, computemw.Config{})
			fake.CreateErr = c.err
			e := harness.EchoApp(kit)
			e.HTTPErrorHandler = e.DefaultHTTPErrorHandler
			base := harness.ServeHTTP(t, e)
			r := computemwtest.Do(t, context.Background(), http.MethodGet, base+computemwtest.SandboxPath, "", nil)
			if r.Status != c.status || r.Body["message"] != c.msg {
				t.Errorf("got %d %s, want %d %q", r.Status, r.Raw, c.status, c.msg)
			}
			if r.Header.Get(computemw.RequestIDHeader) == "" {
				t.Error("no X-Request-ID")
			}
		})
	}
}

// The benchmarks serve requests through e.ServeHTTP. The middleware's
// own cost is BenchmarkMiddleware − BenchmarkBare; the adapter's share of it
// is that minus the core's BenchmarkCore (in package adapters).

func BenchmarkBare(b *testing.B) {
	kit, _ := computemwtest.SuiteKit(b, computemw.Config{})
	harness.BenchHTTP(b, harness.EchoApp(kit), http.MethodGet, harness.BarePath, "")
}

func BenchmarkMiddleware(b *testing.B) {
	kit, _ := computemwtest.SuiteKit(b, computemw.Config{})
	harness.BenchHTTP(b, harness.EchoApp(kit), http.MethodGet, harness.MiddlewarePath, "")
}

func BenchmarkBareExec(b *testing.B) {
	kit, _ := computemwtest.SuiteKit(b, computemw.Config{})
	harness.BenchHTTP(b, harness.EchoApp(kit), http.MethodPost, harness.BareExecPath, harness.ExecBody)
}

func BenchmarkRouteExec(b *testing.B) {
	kit, _ := computemwtest.SuiteKit(b, computemw.Config{})
	harness.BenchHTTP(b, harness.EchoApp(kit), http.MethodPost, computemwtest.Prefix+"/exec", harness.ExecBody)
}

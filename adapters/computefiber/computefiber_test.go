package computefiber_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	computefiber "github.com/computemw/kit/adapters/computefiber"
	"github.com/computemw/kit/adapters/internal/harness"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/gofiber/fiber/v2"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, harness.LeakOptions()...) }

func TestAdapterSuite(t *testing.T) {
	computemwtest.AdapterSuite(t, computemwtest.Harness{Name: "fiber", Start: harness.Fiber})
}

// With fiber's own error handler instead of computefiber.ErrorHandler, a
// failure to create the request's sandbox still has the kit's status, and
// its message is the client-safe one.
func TestDefaultErrorHandler(t *testing.T) {
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
			base := harness.ServeFiber(t, harness.FiberApp(kit, fiber.DefaultErrorHandler))
			r := computemwtest.Do(t, context.Background(), http.MethodGet, base+computemwtest.SandboxPath, "", nil)
			if r.Status != c.status || strings.TrimSpace(string(r.Raw)) != c.msg {
				t.Errorf("got %d %q, want %d %q", r.Status, r.Raw, c.status, c.msg)
			}
			if r.Header.Get(computemw.RequestIDHeader) == "" {
				t.Error("no X-Request-ID")
			}
		})
	}
}

// An error that is neither the kit's nor fiber's, such as a recovered
// panic, is a 500 INTERNAL_ERROR that does not leak its text; fiber's own
// errors keep fiber's rendering.
func TestErrorHandlerFallback(t *testing.T) {
	kit, _ := computemwtest.SuiteKit(t, computemw.Config{})
	base := harness.Fiber(t, kit)
	r := computemwtest.Do(t, context.Background(), http.MethodGet, base+computemwtest.PanicPath, "", nil)
	if r.Status != 500 || r.Code() != "INTERNAL_ERROR" || strings.Contains(string(r.Raw), "handler panic") {
		t.Errorf("panic: %d %s", r.Status, r.Raw)
	}
	// Fiber's own errors go to Fiber's default handler.
	app := fiber.New(fiber.Config{ErrorHandler: computefiber.ErrorHandler(kit), DisableStartupMessage: true})
	app.Get("/teapot", func(*fiber.Ctx) error { return fiber.ErrTeapot })
	resp, err := app.Test(httptest.NewRequest(http.MethodGet, "/teapot", nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 418 || string(body) != "I'm a teapot" {
		t.Errorf("fiber's own error: %d %s", resp.StatusCode, body)
	}
}

// The benchmarks serve requests through app.Handler() with a reused
// fasthttp.RequestCtx. The middleware's own cost is BenchmarkMiddleware −
// BenchmarkBare; the adapter's share of it is that minus the core's
// BenchmarkCore (in package adapters).

func BenchmarkBare(b *testing.B) {
	kit, _ := computemwtest.SuiteKit(b, computemw.Config{})
	harness.BenchFiber(b, harness.FiberApp(kit), http.MethodGet, harness.BarePath, "")
}

func BenchmarkMiddleware(b *testing.B) {
	kit, _ := computemwtest.SuiteKit(b, computemw.Config{})
	harness.BenchFiber(b, harness.FiberApp(kit), http.MethodGet, harness.MiddlewarePath, "")
}

func BenchmarkBareExec(b *testing.B) {
	kit, _ := computemwtest.SuiteKit(b, computemw.Config{})
	harness.BenchFiber(b, harness.FiberApp(kit), http.MethodPost, harness.BareExecPath, harness.ExecBody)
}

func BenchmarkRouteExec(b *testing.B) {
	kit, _ := computemwtest.SuiteKit(b, computemw.Config{})
	harness.BenchFiber(b, harness.FiberApp(kit), http.MethodPost, computemwtest.Prefix+"/exec", harness.ExecBody)
}

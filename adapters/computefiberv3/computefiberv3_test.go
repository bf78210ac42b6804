package computefiberv3_test

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/adapters/computefiberv3"
	"github.com/computemw/kit/adapters/internal/harness"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/computemw/kit/computemw/ratelimit"
	"github.com/gofiber/fiber/v3"
	"github.com/ulule/limiter/v3"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, harness.LeakOptions()...) }

func TestAdapterSuite(t *testing.T) {
	computemwtest.AdapterSuite(t, computemwtest.Harness{Name: "fiberv3", Start: harness.FiberV3})
}

// With fiber's own error handler instead of computefiberv3.ErrorHandler, a
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
			base := harness.ServeFiberV3(t, harness.FiberV3App(kit, fiber.DefaultErrorHandler))
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
// errors keep fiber's rendering; NotFound, the app's last handler, answers
// unknown paths with the kit's JSON 404 (the router's own 404 is Fiber v3's
// status text, where v2 wrote "Cannot GET /nope").
func TestErrorHandlerFallback(t *testing.T) {
	kit, _ := computemwtest.SuiteKit(t, computemw.Config{})
	base := harness.FiberV3(t, kit)
	r := computemwtest.Do(t, context.Background(), http.MethodGet, base+computemwtest.PanicPath, "", nil)
	if r.Status != 500 || r.Code() != "INTERNAL_ERROR" || strings.Contains(string(r.Raw), "handler panic") {
		t.Errorf("panic: %d %s", r.Status, r.Raw)
	}
	r = computemwtest.Do(t, context.Background(), http.MethodGet, base+"/nope", "", nil)
	if r.Status != 404 || r.Code() != "NOT_FOUND" || r.Body["requestId"] == "" {
		t.Errorf("NotFound: %d %s", r.Status, r.Raw)
	}

	app := fiber.New(fiber.Config{ErrorHandler: computefiberv3.ErrorHandler(kit)})
	app.Get("/teapot", func(fiber.Ctx) error { return fiber.ErrTeapot })
	base = harness.ServeFiberV3(t, app)
	for path, want := range map[string]*fiber.Error{"/teapot": fiber.ErrTeapot, "/nope": fiber.ErrNotFound} {
		r = computemwtest.Do(t, context.Background(), http.MethodGet, base+path, "", nil)
		if r.Status != want.Code || string(r.Raw) != want.Message {
			t.Errorf("%s: %d %s, want %d %s", path, r.Status, r.Raw, want.Code, want.Message)
		}
	}
}

// addressKit is a kit that allows each anonymous client limit requests an
// hour, keyed by the client address that loopback proxies forward.
func addressKit(t *testing.T, limit int64) *computemw.Kit {
	rl, err := ratelimit.New(ratelimit.Config{
		Tiers:          map[string]limiter.Rate{"free": {Period: time.Hour, Limit: limit}},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	})
	if err != nil {
		t.Fatal(err)
	}
	kit, _ := computemwtest.SuiteKit(t, computemw.Config{Policies: []computemw.Policy{rl}})
	return kit
}

// exec sends POST /exec with the given X-Forwarded-For lines and returns
// its status.
func exec(t *testing.T, base string, forwardedFor ...string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+computemwtest.Prefix+"/exec", strings.NewReader(`{"command":"echo x"}`))
	req.Header["Content-Type"] = []string{"application/json"}
	req.Header["X-Forwarded-For"] = forwardedFor
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Every X-Forwarded-For line reaches the kit: the client is the address
// that the nearest proxy appended on a line of its own, not the one that
// the client wrote on the first line.
func TestForwardedForLines(t *testing.T) {
	base := harness.FiberV3(t, addressKit(t, 1))
	if s := exec(t, base, "198.51.100.1", "203.0.113.7"); s != http.StatusOK {
		t.Fatalf("first request: %d", s)
	}
	if s := exec(t, base, "198.51.100.2", "203.0.113.7"); s != http.StatusTooManyRequests {
		t.Errorf("the same client behind another forged line: %d, want 429", s)
	}
}

// A WebSocket's messages are admitted after the upgrade's handler has
// returned, with the upgrade request's headers: they are a copy, which
// the requests that fasthttp serves next with the same buffers (another
// client's) do not change.
func TestWebSocketKeepsItsHeaders(t *testing.T) {
	base := harness.FiberV3(t, addressKit(t, 3))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, _, err := computemwtest.DialWS(t, ctx, base, http.Header{"X-Forwarded-For": {"203.0.113.7"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Conn.CloseNow()
	// Another client spends its requests.
	for range 3 {
		if s := exec(t, base, "198.51.100.9"); s != http.StatusOK {
			t.Fatalf("other client: %d", s)
		}
	}
	// The WebSocket's client has two of its three left.
	ws.Send(httpapi.WSMessage{Type: "create-sandbox"})
	if m := ws.Next(); m.Type != "sandbox-ready" {
		t.Fatalf("create-sandbox: %+v", m)
	}
	ws.Send(httpapi.WSMessage{Type: "execute", Command: "echo hi"})
	var out string
	for m := ws.Next(); m.Type != "execution-complete"; m = ws.Next() {
		if m.Type == "error" {
			t.Fatalf("execute: %+v", m)
		}
		out += m.Data
	}
	if out != "hi\n" {
		t.Errorf("output %q", out)
	}
	ws.Send(httpapi.WSMessage{Type: "execute", Command: "echo again"})
	if m := ws.Next(); m.Type != "error" || m.Code != string(computemw.CodeRateLimited) {
		t.Errorf("fourth request of the client: %+v, want a RATE_LIMITED error", m)
	}
}

// The benchmarks serve requests through app.Handler() with a reused
// fasthttp.RequestCtx. The middleware's own cost is BenchmarkMiddleware −
// BenchmarkBare; the adapter's share of it is that minus the core's
// BenchmarkCore (in package adapters).

func BenchmarkBare(b *testing.B) {
	kit, _ := computemwtest.SuiteKit(b, computemw.Config{})
	harness.BenchFiberV3(b, harness.FiberV3App(kit), http.MethodGet, harness.BarePath, "")
}

func BenchmarkMiddleware(b *testing.B) {
	kit, _ := computemwtest.SuiteKit(b, computemw.Config{})
	harness.BenchFiberV3(b, harness.FiberV3App(kit), http.MethodGet, harness.MiddlewarePath, "")
}

func BenchmarkBareExec(b *testing.B) {
	kit, _ := computemwtest.SuiteKit(b, computemw.Config{})
	harness.BenchFiberV3(b, harness.FiberV3App(kit), http.MethodPost, harness.BareExecPath, harness.ExecBody)
}

func BenchmarkRouteExec(b *testing.B) {
	kit, _ := computemwtest.SuiteKit(b, computemw.Config{})
	harness.BenchFiberV3(b, harness.FiberV3App(kit), http.MethodPost, computemwtest.Prefix+"/exec", harness.ExecBody)
}

package harness

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
	"go.uber.org/goleak"
)

// ExecBody is the request body of the exec benchmarks.
const ExecBody = `{"command":"true"}`

// BenchHTTP serves method path (with body, if any) through h in process,
// the framework's own dispatch without a network, and fails unless the
// answer is 200. Both sides of a comparison pay the same request and
// recorder costs.
func BenchHTTP(b *testing.B, h http.Handler, method, path, body string) {
	serve := func() {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req := httptest.NewRequest(method, path, rd)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
	}
	for range warmup {
		serve()
	}
	b.ReportAllocs()
	for b.Loop() {
		serve()
	}
}

// warmup is how many requests a benchmark serves before it measures, so
// that short runs (-benchtime=2000x) do not count the framework's pools and
// caches filling up.
const warmup = 200

// BenchFiber is BenchHTTP for Fiber: app.Handler() called with one reused
// fasthttp.RequestCtx, as fasthttp's server reuses it between requests.
func BenchFiber(b *testing.B, app *fiber.App, method, path, body string) {
	var req fasthttp.Request
	req.Header.SetMethod(method)
	req.SetRequestURI(path)
	if body != "" {
		req.Header.SetContentType("application/json")
		req.SetBodyString(body)
	}
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}, nil)
	h := app.Handler()
	serve := func() {
		h(&ctx)
		if code := ctx.Response.StatusCode(); code != http.StatusOK {
			b.Fatalf("%s %s: %d %s", method, path, code, ctx.Response.Body())
		}
		// What fasthttp's server resets between two requests of a
		// connection.
		ctx.Response.Reset()
		ctx.ResetUserValues()
	}
	for range warmup {
		serve()
	}
	b.ReportAllocs()
	for b.Loop() {
		serve()
	}
}

// LeakOptions are the goroutine leak check's exceptions for the adapter
// tests, each one a goroutine that outlives a test by design:
//   - net/http.(*persistConn).writeLoop and internal/poll.runtime_pollWait:
//     connections that http.DefaultClient and the suite's one-off clients
//     are still closing when the check starts;
//   - fasthttp's updateServerDate: once any fasthttp server has run, a
//     process-wide goroutine refreshes the Date header once a second,
//     forever.
func LeakOptions() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
	}
}

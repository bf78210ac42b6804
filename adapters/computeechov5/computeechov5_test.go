package computeechov5_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/computemw/kit/adapters/computeechov5"
	"github.com/computemw/kit/adapters/internal/harness"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/labstack/echo/v5"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, harness.LeakOptions()...) }

func TestAdapterSuite(t *testing.T) {
	computemwtest.AdapterSuite(t, computemwtest.Harness{Name: "echov5", Start: harness.EchoV5})
}

// With echo's own error handler instead of computeechov5.HTTPErrorHandler, a
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
			e := harness.EchoV5App(kit)
			e.HTTPErrorHandler = echo.DefaultHTTPErrorHandler(false)
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

// HTTPError keeps the kit's error reachable and never wraps twice; errors
// that already carry a status for Echo pass through.
func TestHTTPError(t *testing.T) {
	if computeechov5.HTTPError(nil) != nil {
		t.Error("HTTPError(nil) is not nil")
	}
	ke := &computemw.Error{Code: computemw.CodeTimeout, Message: "too slow"}
	err := computeechov5.HTTPError(fmt.Errorf("running: %w", ke))
	var he *echo.HTTPError
	if !errors.As(err, &he) || he.Code != http.StatusRequestTimeout || he.Message != "too slow" {
		t.Fatalf("HTTPError: %#v", err)
	}
	if got := new(*computemw.Error); !errors.As(err, got) || (*got).Code != computemw.CodeTimeout {
		t.Errorf("kit error not reachable: %v", err)
	}
	if again := computeechov5.HTTPError(err); again != err {
		t.Errorf("wrapped twice: %v", again)
	}
	for _, pass := range []error{echo.ErrNotFound, echo.NewHTTPError(http.StatusTeapot, "tea")} {
		if got := computeechov5.HTTPError(pass); got != pass {
			t.Errorf("%v became %v", pass, got)
		}
	}
	err = computeechov5.HTTPError(errors.New("disk /var/lib/x failed"))
	if !errors.As(err, &he) || he.Code != http.StatusInternalServerError || he.Message != computemw.ErrInternal.Message {
		t.Errorf("unknown error: %v", err)
	}
}

// HTTPErrorHandler never writes a second response over one a handler
// already started, and leaves errors that are not the kit's to echo.
func TestHTTPErrorHandler(t *testing.T) {
	kit, _ := computemwtest.SuiteKit(t, computemw.Config{})
	e := harness.EchoV5App(kit)
	e.GET("/written", func(c *echo.Context) error {
		if err := c.String(http.StatusAccepted, "done"); err != nil {
			return err
		}
		return computemwtest.SuiteError()
	})
	e.GET("/teapot", func(*echo.Context) error { return echo.NewHTTPError(http.StatusTeapot, "tea") })
	base := harness.ServeHTTP(t, e)
	r := computemwtest.Do(t, context.Background(), http.MethodGet, base+"/written", "", nil)
	if r.Status != http.StatusAccepted || string(r.Raw) != "done" {
		t.Errorf("written: %d %s", r.Status, r.Raw)
	}
	r = computemwtest.Do(t, context.Background(), http.MethodGet, base+"/teapot", "", nil)
	if r.Status != http.StatusTeapot || r.Body["message"] != "tea" {
		t.Errorf("teapot: %d %s", r.Status, r.Raw)
	}
	r = computemwtest.Do(t, context.Background(), http.MethodGet, base+"/nowhere", "", nil)
	if r.Status != http.StatusNotFound || r.Body["message"] != "Not Found" {
		t.Errorf("unknown path: %d %s", r.Status, r.Raw)
	}
}

// A skipped request gets a request ID and no sandbox; Admit sets the kit's
// headers and hands back its refusal as an *echo.HTTPError.
func TestSkipperAndAdmit(t *testing.T) {
	kit, fake := computemwtest.SuiteKit(t, computemw.Config{AllowedHosts: []string{"127.0.0.1"}})
	e := harness.EchoV5App(kit)
	skip := computeechov5.MiddlewareWithConfig(kit, computeechov5.MiddlewareConfig{
		Skipper: func(*echo.Context) bool { return true },
	})
	e.GET("/skipped", func(c *echo.Context) error {
		return c.JSON(http.StatusOK, map[string]bool{"sandbox": computeechov5.Sandbox(c) != nil})
	}, skip)
	e.POST("/admitted", func(c *echo.Context) error {
		if _, err := computeechov5.Admit(c, kit, computemw.OpExecute); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	})
	base := harness.ServeHTTP(t, e)
	r := computemwtest.Do(t, context.Background(), http.MethodGet, base+"/skipped", "", nil)
	if r.Status != http.StatusOK || r.Body["sandbox"] != false || r.Header.Get(computemw.RequestIDHeader) == "" {
		t.Errorf("skipped: %d %v %s", r.Status, r.Header, r.Raw)
	}
	if fake.Created() != 0 {
		t.Errorf("a skipped request created %d sandboxes", fake.Created())
	}
	r = computemwtest.Do(t, context.Background(), http.MethodPost, base+"/admitted", "", nil)
	if r.Status != http.StatusNoContent || r.Header.Get(computemw.RequestIDHeader) == "" {
		t.Errorf("admitted: %d %v %s", r.Status, r.Header, r.Raw)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/admitted", nil)
	req.Host = "rebound.example"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get(computemw.RequestIDHeader) == "" {
		t.Errorf("refused host: %d %v", resp.StatusCode, resp.Header)
	}
}

// The benchmarks serve requests through e.ServeHTTP. The middleware's
// own cost is BenchmarkMiddleware − BenchmarkBare; the adapter's share of it
// is that minus the core's BenchmarkCore (in package adapters).

func BenchmarkBare(b *testing.B) {
	kit, _ := computemwtest.SuiteKit(b, computemw.Config{})
	harness.BenchHTTP(b, harness.EchoV5App(kit), http.MethodGet, harness.BarePath, "")
}

func BenchmarkMiddleware(b *testing.B) {
	kit, _ := computemwtest.SuiteKit(b, computemw.Config{})
	harness.BenchHTTP(b, harness.EchoV5App(kit), http.MethodGet, harness.MiddlewarePath, "")
}

func BenchmarkBareExec(b *testing.B) {
	kit, _ := computemwtest.SuiteKit(b, computemw.Config{})
	harness.BenchHTTP(b, harness.EchoV5App(kit), http.MethodPost, harness.BareExecPath, harness.ExecBody)
}

func BenchmarkRouteExec(b *testing.B) {
	kit, _ := computemwtest.SuiteKit(b, computemw.Config{})
	harness.BenchHTTP(b, harness.EchoV5App(kit), http.MethodPost, computemwtest.Prefix+"/exec", harness.ExecBody)
}

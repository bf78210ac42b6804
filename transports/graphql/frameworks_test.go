package graphql_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/labstack/echo/v4"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/transports/graphql"
)

// TestFrameworks mounts the endpoint on Gin, Echo and Fiber (through its
// net/http adaptor), each over its own real server on loopback: a
// mutation runs, an invalid document is a GraphQL error, and on Gin and
// Echo a subscription streams over the framework's WebSocket upgrade.
func TestFrameworks(t *testing.T) {
	for _, fw := range []struct {
		name  string
		start func(t *testing.T, h http.Handler) string
		// ws: the framework carries the WebSocket upgrade to the
		// handler (Fiber's net/http adaptor does not).
		ws bool
	}{
		{"gin", func(t *testing.T, h http.Handler) string {
			gin.SetMode(gin.ReleaseMode)
			r := gin.New()
			r.Any("/graphql", gin.WrapH(h))
			return serveHTTP(t, r)
		}, true},
		{"echo", func(t *testing.T, h http.Handler) string {
			e := echo.New()
			e.Any("/graphql", echo.WrapHandler(h))
			return serveHTTP(t, e)
		}, true},
		{"fiber", func(t *testing.T, h http.Handler) string {
			app := fiber.New(fiber.Config{DisableStartupMessage: true})
			app.All("/graphql", adaptor.HTTPHandler(h))
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				_ = app.Listener(ln)
			}()
			t.Cleanup(func() {
				_ = app.ShutdownWithTimeout(5 * time.Second)
				<-done
			})
			return "http://" + ln.Addr().String()
		}, false},
	} {
		t.Run(fw.name, func(t *testing.T) {
			kit, fake := computemwtest.SuiteKit(t, computemw.Config{})
			base := fw.start(t, graphql.New(kit, graphql.Options{}))
			srv := struct{ URL string }{base}

			r := post(t, srv.URL, `mutation { runCommand(command: "echo on `+fw.name+`") { output } }`, nil, nil)
			if res := r.field(t, "runCommand"); res["output"] != "on "+fw.name+"\n" {
				t.Errorf("mutation: %s", r.Raw)
			}
			if r = post(t, srv.URL, `{ nope }`, nil, nil); r.Status != 422 || r.Errors[0].Code() != "BAD_REQUEST" {
				t.Errorf("invalid document: %d %s", r.Status, r.Raw)
			}
			if !fw.ws {
				return
			}
			cl, _, err := dialWS(t, srv.URL, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			cl.subscribe("1", executionDoc, map[string]any{"command": "lines 2"})
			if events, errs := cl.collect("1"); len(errs) != 0 || len(events) != 3 || events[2].Output != "line 1\nline 2\n" {
				t.Errorf("subscription: events %+v errors %+v", events, errs)
			}
			waitFor(t, "every sandbox destroyed", func() bool { return fake.Live() == 0 })
		})
	}
}

// serveHTTP serves h on a real net/http server on loopback until cleanup.
func serveHTTP(t *testing.T, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

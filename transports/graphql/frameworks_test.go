package graphql_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/labstack/echo/v4"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/transports/graphql"
)

// TestFrameworks mounts the endpoint on Gin and Echo, each over its own
// real server on loopback: a mutation runs, an invalid document is a
// GraphQL error, and a subscription streams over the framework's
// WebSocket upgrade.
func TestFrameworks(t *testing.T) {
	for _, fw := range []struct {
		name  string
		mount func(h http.Handler) http.Handler
	}{
		{"gin", func(h http.Handler) http.Handler {
			gin.SetMode(gin.ReleaseMode)
			r := gin.New()
			r.Any("/graphql", gin.WrapH(h))
			return r
		}},
		{"echo", func(h http.Handler) http.Handler {
			e := echo.New()
			e.Any("/graphql", echo.WrapHandler(h))
			return e
		}},
	} {
		t.Run(fw.name, func(t *testing.T) {
			kit, fake := computemwtest.SuiteKit(t, computemw.Config{})
			srv := httptest.NewServer(fw.mount(graphql.New(kit, graphql.Options{})))
			t.Cleanup(srv.Close)

			r := post(t, srv.URL, `mutation { runCommand(command: "echo on `+fw.name+`") { output } }`, nil, nil)
			if res := r.field(t, "runCommand"); res["output"] != "on "+fw.name+"\n" {
				t.Errorf("mutation: %s", r.Raw)
			}
			if r = post(t, srv.URL, `{ nope }`, nil, nil); r.Status != 422 || r.Errors[0].Code() != "BAD_REQUEST" {
				t.Errorf("invalid document: %d %s", r.Status, r.Raw)
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

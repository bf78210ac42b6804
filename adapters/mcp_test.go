package adapters_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"

	"github.com/computemw/kit/adapters/internal/harness"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/auth"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/transports/computemcp"
	"github.com/computemw/kit/transports/computemcp/computemcptest"
)

const mcpSecret = "adapters-mcp-test-secret-at-least-32-bytes"

// mcpApps serve the harness app of a framework with the MCP endpoint
// under its route group (computemwtest.Prefix + "/mcp") and the
// protected-resource metadata at the root, as a user of that framework
// mounts them.
var mcpApps = []struct {
	name  string
	start func(t *testing.T, kit *computemw.Kit, srv *computemcp.Server) string
}{
	{"nethttp", func(t *testing.T, kit *computemw.Kit, srv *computemcp.Server) string {
		mux := http.NewServeMux()
		mux.Handle("/", harness.NetHTTPHandler(kit))
		mux.Handle(computemwtest.Prefix+"/mcp", srv)
		mux.Handle("GET "+computemcp.MetadataPath(computemwtest.Prefix+"/mcp"), srv.Metadata())
		return harness.ServeHTTP(t, mux)
	}},
	{"gin", func(t *testing.T, kit *computemw.Kit, srv *computemcp.Server) string {
		r := harness.GinEngine(kit)
		r.Any(computemwtest.Prefix+"/mcp", gin.WrapH(srv))
		r.GET(computemcp.MetadataPath(computemwtest.Prefix+"/mcp"), gin.WrapH(srv.Metadata()))
		return harness.ServeHTTP(t, r)
	}},
	{"echo", func(t *testing.T, kit *computemw.Kit, srv *computemcp.Server) string {
		e := harness.EchoApp(kit)
		e.Any(computemwtest.Prefix+"/mcp", echo.WrapHandler(srv))
		e.GET(computemcp.MetadataPath(computemwtest.Prefix+"/mcp"), echo.WrapHandler(srv.Metadata()))
		return harness.ServeHTTP(t, e)
	}},
	{"fiber", func(t *testing.T, kit *computemw.Kit, srv *computemcp.Server) string {
		// Fiber is not net/http: its net/http adaptor carries the
		// endpoint, streaming included (fasthttp's adaptor flushes).
		app := harness.FiberAppWith(kit, func(app *fiber.App) {
			app.All(computemwtest.Prefix+"/mcp", adaptor.HTTPHandler(srv))
			app.Get(computemcp.MetadataPath(computemwtest.Prefix+"/mcp"), adaptor.HTTPHandler(srv.Metadata()))
		})
		return harness.ServeFiber(t, app)
	}},
}

// TestMCP mounts the MCP endpoint on net/http, Gin, Echo and Fiber, each
// app served by its framework's real server on loopback over real bwrap
// sandboxes, with bearer tokens required: a call without a token is 401
// with a challenge naming the protected-resource metadata; then the Go
// SDK's client and the official TypeScript client each initialize, list
// the tools, run code and get its output (streamed as progress
// notifications, which arrive while the program runs), hold a sandbox
// across calls and get tool errors with stable codes for bad input; every
// execution is counted in the Prometheus metrics, and nothing is left
// running.
func TestMCP(t *testing.T) {
	node, sdk := computemcptest.NodeSDK(t, moduleRoot(t))
	for _, app := range mcpApps {
		t.Run(app.name, func(t *testing.T) {
			authn, err := auth.New(auth.Config{JWT: &auth.JWTConfig{Algorithms: []string{"HS256"},
				Keys: []auth.JWTKey{{Algorithm: "HS256", Key: []byte(mcpSecret)}}}})
			if err != nil {
				t.Fatal(err)
			}
			kit := localKit(t, computemw.Config{Policies: []computemw.Policy{authn}})
			srv := computemcp.New(kit, computemcp.Options{})
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if err := srv.Close(ctx); err != nil {
					t.Errorf("mcp Close: %v", err)
				}
			})
			base := app.start(t, kit, srv)
			endpoint := base + computemwtest.Prefix + "/mcp"
			token := mcpToken(t, "agent-"+app.name)

			if _, err := computemcptest.Connect(t, endpoint, nil, nil); err == nil {
				t.Errorf("the Go client connected without a token")
			}
			computemcptest.Suite(t, kit, endpoint, http.Header{"Authorization": {"Bearer " + token}})
			computemcptest.Streams(t, kit, endpoint, http.Header{"Authorization": {"Bearer " + token}})

			executions := func() float64 {
				return computemwtest.MetricValue(t, kit, "compute_executions_total", map[string]string{"language": "python", "status": "success"})
			}
			before := executions()
			s := computemcptest.Node(t, node, sdk, endpoint, token)
			wantMeta := base + computemcp.MetadataPath(computemwtest.Prefix+"/mcp")
			if s.Unauthorized != 401 || !strings.Contains(s.Challenge, `resource_metadata="`+wantMeta+`"`) {
				t.Errorf("node, without a token: %d %q", s.Unauthorized, s.Challenge)
			}
			if !slices.Equal(s.Tools, computemcptest.Tools) {
				t.Errorf("node tools/list: %v", s.Tools)
			}
			if s.Output != "42\n" || s.Streamed != "42\n" || s.ProgressTokens == 0 {
				t.Errorf("node run_code: output %q, streamed %q in %d notifications", s.Output, s.Streamed, s.ProgressTokens)
			}
			if s.Kept != "node was here\n" {
				t.Errorf("node, a file kept in the session's sandbox: %q", s.Kept)
			}
			if s.BadArgCode != "BAD_REQUEST" || s.TooLargeCode != "PAYLOAD_TOO_LARGE" {
				t.Errorf("node, bad input: %q %q", s.BadArgCode, s.TooLargeCode)
			}
			if after := executions(); after != before+2 {
				t.Errorf("compute_executions_total{language=python,status=success}: %v after the node client's two programs, was %v", after, before)
			}
			waitFor(t, func() bool { return kit.Stats().Live == 0 && srv.Sessions() == 0 })
		})
	}
}

// mcpToken mints a bearer token for sub.
func mcpToken(t *testing.T, sub string) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": sub, "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(mcpSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

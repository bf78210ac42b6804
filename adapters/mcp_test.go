package adapters_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	fiberv3 "github.com/gofiber/fiber/v3"
	adaptorv3 "github.com/gofiber/fiber/v3/middleware/adaptor"
	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"
	echov5 "github.com/labstack/echo/v5"

	"github.com/computemw/kit/adapters/internal/harness"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/auth"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/computemw/kit/transports/computemcp"
	"github.com/computemw/kit/transports/computemcp/computemcptest"
)

const mcpSecret = "adapters-mcp-test-secret-at-least-32-bytes"

// mcpApps serve the harness app of a framework with the MCP endpoint in
// its route group (computemwtest.Prefix + "/mcp"), added by the adapter's
// own registration (Register, or computehttp's Mount) as the endpoint
// srv.Endpoint() gives, and the protected-resource metadata at the root
// of the host with the one line a user of that framework adds.
var mcpApps = []struct {
	name  string
	start func(t *testing.T, kit *computemw.Kit, srv *computemcp.Server) string
}{
	{"nethttp", func(t *testing.T, kit *computemw.Kit, srv *computemcp.Server) string {
		mux := http.NewServeMux()
		mux.Handle("/", harness.NetHTTPHandler(kit, srv.Endpoint()))
		mux.Handle("GET "+computemcp.MetadataPath(computemwtest.Prefix+"/mcp"), srv.Metadata())
		return harness.ServeHTTP(t, mux)
	}},
	{"gin", func(t *testing.T, kit *computemw.Kit, srv *computemcp.Server) string {
		r := harness.GinEngine(kit, srv.Endpoint())
		r.GET(computemcp.MetadataPath(computemwtest.Prefix+"/mcp"), gin.WrapH(srv.Metadata()))
		return harness.ServeHTTP(t, r)
	}},
	{"echo", func(t *testing.T, kit *computemw.Kit, srv *computemcp.Server) string {
		e := harness.EchoApp(kit, srv.Endpoint())
		e.GET(computemcp.MetadataPath(computemwtest.Prefix+"/mcp"), echo.WrapHandler(srv.Metadata()))
		return harness.ServeHTTP(t, e)
	}},
	{"echov5", func(t *testing.T, kit *computemw.Kit, srv *computemcp.Server) string {
		e := harness.EchoV5App(kit, srv.Endpoint())
		e.GET(computemcp.MetadataPath(computemwtest.Prefix+"/mcp"), echov5.WrapHandler(srv.Metadata()))
		return harness.ServeHTTP(t, e)
	}},
	{"fiber", func(t *testing.T, kit *computemw.Kit, srv *computemcp.Server) string {
		app := harness.FiberAppWith(kit, []httpapi.Endpoint{srv.Endpoint()}, func(app *fiber.App) {
			app.Get(computemcp.MetadataPath(computemwtest.Prefix+"/mcp"), adaptor.HTTPHandler(srv.Metadata()))
		})
		return harness.ServeFiber(t, app)
	}},
	{"fiberv3", func(t *testing.T, kit *computemw.Kit, srv *computemcp.Server) string {
		app := harness.FiberV3AppWith(kit, []httpapi.Endpoint{srv.Endpoint()}, func(app *fiberv3.App) {
			app.Get(computemcp.MetadataPath(computemwtest.Prefix+"/mcp"), adaptorv3.HTTPHandler(srv.Metadata()))
		})
		return harness.ServeFiberV3(t, app)
	}},
}

// TestMCP serves the MCP endpoint through the adapters' own registration
// on net/http, Gin, Echo v4 and v5, Fiber v2 and v3, each app served by
// its framework's real server on loopback over real bwrap sandboxes, with
// bearer tokens required: a call without a token is 401 with a challenge
// naming the protected-resource metadata, which the root serves; the
// server's event stream (GET) opens and is flushed through the adapter,
// and DELETE ends the session and the stream; then the Go SDK's client
// and the official TypeScript client each initialize, list the tools,
// run code and get its output (streamed as progress notifications, which
// arrive while the Go client's program runs), hold a sandbox across calls
// and get tool errors with stable codes for bad input; every execution is
// counted in the Prometheus metrics, and nothing is left running.
func TestMCP(t *testing.T) {
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
			endpoint := base + computemwtest.Prefix + computemcp.EndpointPath
			token := mcpToken(t, "agent-"+app.name)

			if _, err := computemcptest.Connect(t, endpoint, nil, nil); err == nil {
				t.Errorf("the Go client connected without a token")
			}
			checkMetadata(t, base, endpoint)
			eventStream(t, endpoint, token)
			computemcptest.Suite(t, kit, endpoint, http.Header{"Authorization": {"Bearer " + token}})
			computemcptest.Streams(t, kit, endpoint, http.Header{"Authorization": {"Bearer " + token}})
			waitFor(t, func() bool { return kit.Stats().Live == 0 && srv.Sessions() == 0 })
			t.Run("typescript", func(t *testing.T) { typescriptClient(t, kit, base, endpoint, token) })
			waitFor(t, func() bool { return kit.Stats().Live == 0 && srv.Sessions() == 0 })
		})
	}
}

// typescriptClient drives the endpoint with the official TypeScript client.
func typescriptClient(t *testing.T, kit *computemw.Kit, base, endpoint, token string) {
	node, sdk := computemcptest.NodeSDK(t, moduleRoot(t))
	executions := func() float64 {
		return computemwtest.MetricValue(t, kit, "compute_executions_total", map[string]string{"language": "python", "status": "success"})
	}
	before := executions()
	s := computemcptest.Node(t, node, sdk, endpoint, token)
	wantMeta := base + computemcp.MetadataPath(computemwtest.Prefix+computemcp.EndpointPath)
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
}

// checkMetadata reads the endpoint's protected-resource metadata at the
// root of the host, where the challenge of a 401 points.
func checkMetadata(t *testing.T, base, endpoint string) {
	t.Helper()
	checkMetadataAt(t, base+computemcp.MetadataPath(computemwtest.Prefix+computemcp.EndpointPath), endpoint)
}

// checkMetadataAt reads the protected-resource metadata at url, which must
// name endpoint as its resource.
func checkMetadataAt(t *testing.T, url, endpoint string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Resource string `json:"resource"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); resp.StatusCode != http.StatusOK || err != nil || doc.Resource != endpoint {
		t.Errorf("protected-resource metadata: %d %v %+v, want the resource %s", resp.StatusCode, err, doc, endpoint)
	}
}

// eventStream opens an MCP session by hand and its event stream (GET): the
// stream's first bytes, which the server flushes at once, must come
// through the adapter while the stream is open; DELETE then ends the
// session, and with it the stream.
func eventStream(t *testing.T, endpoint, token string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	send := func(method, body, session string) *http.Response {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, endpoint, rd)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept", "application/json, text/event-stream")
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if session != "" {
			req.Header.Set("Mcp-Session-Id", session)
			req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
		}
		if method == http.MethodGet {
			req.Header.Set("Accept", "text/event-stream")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		return resp
	}
	resp := send(http.MethodPost, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",`+
		`"capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`, "")
	session := resp.Header.Get("Mcp-Session-Id")
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || session == "" {
		t.Fatalf("initialize: %d, session %q", resp.StatusCode, session)
	}
	resp = send(http.MethodPost, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, session)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("notifications/initialized: %d", resp.StatusCode)
	}
	stream := send(http.MethodGet, "", session)
	defer stream.Body.Close()
	if ct := stream.Header.Get("Content-Type"); stream.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("GET: %d %q", stream.StatusCode, ct)
	}
	line, err := bufio.NewReader(stream.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, ":") {
		t.Fatalf("the event stream's first line: %q %v", line, err)
	}
	resp = send(http.MethodDelete, "", session)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Errorf("DELETE: %d", resp.StatusCode)
	}
	if _, err := io.Copy(io.Discard, stream.Body); err != nil {
		t.Errorf("the event stream after DELETE: %v", err)
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

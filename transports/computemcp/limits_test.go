package computemcp_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/transports/computemcp"
	"github.com/computemw/kit/transports/computemcp/computemcptest"
)

// TestSessionsPerCaller: a caller holds at most MaxSessionsPerCaller MCP
// sessions; one more fails to initialize with RATE_LIMITED, and ending a
// session (DELETE) gives its place back and destroys its sandbox.
func TestSessionsPerCaller(t *testing.T) {
	kit := localKit(t, computemw.Config{})
	base, srv := serve(t, kit, computemcp.Options{MaxSessionsPerCaller: 1})
	endpoint := base + "/api/mcp"
	cs, err := computemcptest.Connect(t, endpoint, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res := computemcptest.Call(t, cs, "open_sandbox", nil); res.IsError {
		t.Fatalf("open_sandbox: %+v", res.StructuredContent)
	}
	if _, err := computemcptest.Connect(t, endpoint, nil, nil); err == nil || !strings.Contains(err.Error(), "RATE_LIMITED") {
		t.Errorf("a second session: %v, want RATE_LIMITED", err)
	}
	if err := cs.Close(); err != nil {
		t.Fatal(err)
	}
	computemcptest.WaitFor(t, "the session's sandbox destroyed", func() bool { return kit.Stats().Live == 0 && srv.Sessions() == 0 })
	if _, err := computemcptest.Connect(t, endpoint, nil, nil); err != nil {
		t.Errorf("a session after the first ended: %v", err)
	}
}

// TestIdleSessionClosed: an MCP session that sends nothing for
// IdleTimeout is closed and its sandbox destroyed; its next call fails.
func TestIdleSessionClosed(t *testing.T) {
	kit := localKit(t, computemw.Config{})
	base, srv := serve(t, kit, computemcp.Options{IdleTimeout: 200 * time.Millisecond})
	cs, err := computemcptest.Connect(t, base+"/api/mcp", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res := computemcptest.Call(t, cs, "open_sandbox", nil); res.IsError || kit.Stats().Live != 1 {
		t.Fatalf("open_sandbox: %+v", res.StructuredContent)
	}
	computemcptest.WaitFor(t, "the idle session closed and its sandbox destroyed", func() bool {
		return srv.Sessions() == 0 && kit.Stats().Live == 0
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "run_command", Arguments: map[string]any{"command": "true"}}); err == nil {
		t.Errorf("a call in the closed session succeeded")
	}
}

// TestEndingStopsCalls: a program that cannot finish, running in the
// session's sandbox, is stopped when the client cancels the call, when it
// ends the session (DELETE) while the call runs, and when the server
// closes; nothing is left running.
func TestEndingStopsCalls(t *testing.T) {
	for _, end := range []string{"cancel", "delete", "close"} {
		t.Run(end, func(t *testing.T) {
			kit := localKit(t, computemw.Config{})
			base, srv := serve(t, kit, computemcp.Options{})
			started := make(chan struct{}, 1)
			cs, err := computemcptest.Connect(t, base+"/api/mcp", nil, &mcp.ClientOptions{
				ProgressNotificationHandler: func(context.Context, *mcp.ProgressNotificationClientRequest) {
					select {
					case started <- struct{}{}:
					default:
					}
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			if res := computemcptest.Call(t, cs, "open_sandbox", nil); res.IsError {
				t.Fatalf("open_sandbox: %+v", res.StructuredContent)
			}
			done := make(chan error, 1)
			callCtx, cancelCall := context.WithCancel(context.Background())
			defer cancelCall()
			go func() {
				p := &mcp.CallToolParams{Name: "run_code", Arguments: map[string]any{"language": "python",
					"code": "print('started', flush=True)\nwhile True: pass", "timeout": 240000}}
				p.SetProgressToken("loop")
				_, err := cs.CallTool(callCtx, p)
				done <- err
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			select {
			case <-started:
			case <-ctx.Done():
				t.Fatal("the program did not start")
			}
			switch end {
			case "cancel":
				cancelCall()
			case "delete":
				// The Go client's Close waits for its calls: delete the
				// session as a client that leaves does.
				req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, base+"/api/mcp", nil)
				req.Header.Set("Mcp-Session-Id", cs.ID())
				req.Header.Set("Mcp-Protocol-Version", cs.InitializeResult().ProtocolVersion)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			case "close":
				if err := srv.Close(ctx); err != nil {
					t.Fatalf("Close: %v", err)
				}
			}
			if end != "cancel" {
				select {
				case <-done:
				case <-ctx.Done():
					t.Fatal("the call did not end")
				}
			}
			if end == "cancel" {
				<-done
				// The program stops once the server has the client's
				// cancellation: no python left in the session's sandbox.
				computemcptest.WaitFor(t, "the cancelled program stopped", func() bool {
					res := computemcptest.Call(t, cs, "run_command", map[string]any{"command": "pgrep -c python3 || true"})
					return computemcptest.Structured(t, res)["stdout"] == "0\n"
				})
				_ = cs.Close()
			}
			computemcptest.WaitFor(t, "every sandbox destroyed", func() bool { return kit.Stats().Live == 0 && srv.Sessions() == 0 })
			_ = cs.Close()
		})
	}
}

// TestMessageTooLarge: a message over MaxMessageBytes is refused with 413
// before it is read whole.
func TestMessageTooLarge(t *testing.T) {
	kit := localKit(t, computemw.Config{})
	base, _ := serve(t, kit, computemcp.Options{MaxMessageBytes: 4 << 10})
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"pad":"` + strings.Repeat("x", 8<<10) + `"}}`
	if resp, b := postRaw(t, base+"/api/mcp", body, nil); resp.StatusCode != 413 || !strings.Contains(b, "PAYLOAD_TOO_LARGE") {
		t.Errorf("oversized message: %d %s", resp.StatusCode, b)
	}
}

// TestCORS: a page of an allowed origin may send the transport's headers
// and read the session's.
func TestCORS(t *testing.T) {
	kit := localKit(t, computemw.Config{AllowedOrigins: []string{"https://app.example"}})
	base, _ := serve(t, kit, computemcp.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodOptions, base+"/api/mcp", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type, mcp-session-id")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Mcp-Session-Id") {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	h := http.Header{"Origin": {"https://app.example"}}
	if resp, _ := postRaw(t, base+"/api/mcp", initialize, h); resp.StatusCode != 200 ||
		!strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "Mcp-Session-Id") || resp.Header.Get("Mcp-Session-Id") == "" {
		t.Errorf("initialize from the page: %d %v", resp.StatusCode, resp.Header)
	}
}

// TestForeignHost: a request naming a host the kit does not serve (a
// DNS-rebound page's) is refused before the SDK reads it, as on the
// routes; so is the metadata.
func TestForeignHost(t *testing.T) {
	kit := localKit(t, computemw.Config{AllowedHosts: []string{"127.0.0.1"}})
	base, srv := serve(t, kit, computemcp.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, path := range []string{"/api/mcp", computemcp.MetadataPath("/api/mcp")} {
		method := http.MethodPost
		if path != "/api/mcp" {
			method = http.MethodGet
		}
		req, _ := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(initialize))
		req.Host = "rebound.example"
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Errorf("%s %s with a foreign Host: %d", method, path, resp.StatusCode)
		}
	}
	if srv.Sessions() != 0 {
		t.Errorf("%d sessions after refused requests", srv.Sessions())
	}
}

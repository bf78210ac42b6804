package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/computemw/kit/internal/exampletest"
	"github.com/computemw/kit/transports/computemcp/computemcptest"
)

// TestExample builds and runs the example as a user would and points the
// Go SDK's MCP client at it, anonymously from loopback: the whole agent's
// path of computemcptest.Suite is checked by the tests of the transport,
// here the starter runs code and keeps a file in its session's sandbox,
// and SIGTERM then stops it cleanly, destroying the open session's
// sandbox, with nothing left behind.
func TestExample(t *testing.T) {
	srv := exampletest.Start(t, "github.com/computemw/kit/examples/mcp")
	cs, err := computemcptest.Connect(t, srv.URL+"/api/mcp", nil, nil)
	if err != nil {
		t.Fatalf("initialize: %v", err)
	}
	res := computemcptest.Call(t, cs, "run_code", map[string]any{"language": "python", "code": "print(2+2)"})
	if computemcptest.Structured(t, res)["stdout"] != "4\n" {
		t.Errorf("run_code: %+v", res.StructuredContent)
	}
	computemcptest.Call(t, cs, "open_sandbox", nil)
	computemcptest.Call(t, cs, "write_file", map[string]any{"path": "a.txt", "content": "kept"})
	res = computemcptest.Call(t, cs, "run_command", map[string]any{"command": "cat a.txt"})
	if computemcptest.Structured(t, res)["stdout"] != "kept" {
		t.Errorf("run_command in the session's sandbox: %+v", res.StructuredContent)
	}
	// The session and its sandbox are still open: SIGTERM ends them.
	srv.Stop(t)
}

// TestExampleWithSecret: with COMPUTEMW_JWT_SECRET the starter requires a
// token: 401 with the metadata challenge without one, the whole way with
// one.
func TestExampleWithSecret(t *testing.T) {
	const secret = "mcp-example-test-secret-0123456789abcdef"
	srv := exampletest.Start(t, "github.com/computemw/kit/examples/mcp", "COMPUTEMW_JWT_SECRET="+secret)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/api/mcp",
		strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := `resource_metadata="` + srv.URL + `/.well-known/oauth-protected-resource/api/mcp"`
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), want) {
		t.Errorf("without a token: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "agent", "exp": time.Now().Add(time.Hour).Unix()}).
		SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := computemcptest.Connect(t, srv.URL+"/api/mcp", http.Header{"Authorization": {"Bearer " + tok}}, nil)
	if err != nil {
		t.Fatalf("initialize with a token: %v", err)
	}
	res := computemcptest.Call(t, cs, "run_command", map[string]any{"command": "echo authorized"})
	if computemcptest.Structured(t, res)["stdout"] != "authorized\n" {
		t.Errorf("run_command: %+v", res.StructuredContent)
	}
	_ = cs.Close()
}

// TestRefusesBeyondLoopbackWithoutSecret: without a secret the starter
// will not listen beyond loopback.
func TestRefusesBeyondLoopbackWithoutSecret(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "example")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/computemw/kit/examples/mcp").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "ADDR=0.0.0.0:0", "COMPUTEMW_JWT_SECRET=")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "COMPUTEMW_JWT_SECRET is not set") {
		t.Errorf("started beyond loopback without a secret: %v\n%s", err, out)
	}
}

package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/computemw/kit/internal/exampletest"
	"github.com/computemw/kit/transports/computesocketio/socketiotest"
)

const testSecret = "example-test-secret-of-at-least-32-bytes"

func token(t *testing.T, secret string) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "alice", "plan": "pro", "exp": time.Now().Add(time.Minute).Unix(),
	}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestExample builds and runs the starter with authentication, then drives
// it with socket.io-client as a user would: a session on the local
// provider, a Python program whose lines arrive live, a shell in the
// terminal; a bad token is refused at the handshake; SIGTERM stops the
// server cleanly with no sandbox left behind.
func TestExample(t *testing.T) {
	srv := exampletest.Start(t, "github.com/computemw/kit/examples/socketio", "COMPUTEMW_JWT_SECRET="+testSecret)
	sum := socketiotest.Run(t, socketiotest.Job{URL: srv.URL, Path: "/socket.io/",
		Auth:  map[string]any{"token": token(t, testSecret)},
		Start: map[string]any{"template": "python"},
		Run: map[string]any{"id": "p", "language": "python",
			"code": "import sys\nfor i in range(3):\n    print('line', i + 1, flush=True)\nprint('oops', file=sys.stderr)"},
		Terminal: "echo hi-$((40+2))\n", TerminalExpect: "hi-42"})
	var stdout, stderr strings.Builder
	for _, o := range sum.Outputs {
		if o.Stream == "stderr" {
			stderr.WriteString(o.Data)
		} else {
			stdout.WriteString(o.Data)
		}
	}
	if stdout.String() != "line 1\nline 2\nline 3\n" || stderr.String() != "oops\n" {
		t.Errorf("streamed stdout %q, stderr %q", stdout.String(), stderr.String())
	}
	if r := sum.Result; r == nil || r.Output != "line 1\nline 2\nline 3\n" || !r.Success || r.SandboxID != sum.SessionID {
		t.Errorf("result %+v", sum.Result)
	}
	bad := socketiotest.Run(t, socketiotest.Job{URL: srv.URL, Path: "/socket.io/",
		Auth: map[string]any{"token": token(t, "not-the-secret-but-also-32-bytes-long")},
		Run:  map[string]any{"command": "true"}, ExpectRefusal: true})
	if bad.ConnectError == nil || bad.ConnectError.Data["code"] != "UNAUTHORIZED" {
		t.Errorf("bad token: %+v", bad.ConnectError)
	}
	// A handshake for a name the server does not answer (a DNS-rebound
	// page) is refused before any Engine.IO session is made.
	if status, code := handshake(t, srv.URL, "rebound.example"); status != http.StatusForbidden || code != "FORBIDDEN" {
		t.Errorf("handshake for another host: %d %q, want 403 FORBIDDEN", status, code)
	}
	// The metrics at the root need the same JWT and Host as /api/metrics.
	exampletest.CheckMetrics(t, srv, map[string]string{"Authorization": "Bearer " + token(t, testSecret)}, "/metrics", "/api/metrics")
	srv.Stop(t)
}

// handshake opens an Engine.IO session by polling with the Host header
// host, and returns the status and the kit's error code.
func handshake(t *testing.T, base, host string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/socket.io/?EIO=4&transport=polling", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Code string `json:"code"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Code
}

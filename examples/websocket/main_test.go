package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/computemw/kit/internal/exampletest"
)

// TestExample builds and runs the example, loads its page, then speaks the
// page's protocol on /api/ws: a sandbox, a command's output and its exit
// code; after the socket closes the sandbox is gone, and SIGTERM stops the
// server cleanly with nothing left behind.
func TestExample(t *testing.T) {
	srv := exampletest.Start(t, "github.com/computemw/kit/examples/websocket")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)

	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "new WebSocket") {
		t.Fatalf("GET /: %d %v %.200s", resp.StatusCode, err, page)
	}

	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/api/ws", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.CloseNow() })
	send := func(m httpapi.WSMessage) {
		t.Helper()
		b, _ := json.Marshal(m)
		if err := c.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	next := func() httpapi.WSMessage {
		t.Helper()
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		var m httpapi.WSMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if m.Type == "error" {
			t.Fatalf("server error: %s %s", m.Code, m.Message)
		}
		return m
	}

	send(httpapi.WSMessage{Type: "create-sandbox"})
	if m := next(); m.Type != "sandbox-ready" || m.SandboxID == "" {
		t.Fatalf("got %+v", m)
	}
	send(httpapi.WSMessage{Type: "execute", Command: "echo one; echo two >&2; exit 3"})
	var stdout, stderr strings.Builder
	for {
		m := next()
		if m.Type == "execution-complete" {
			if m.ExitCode == nil || *m.ExitCode != 3 {
				t.Errorf("exit code %v", m.ExitCode)
			}
			break
		}
		switch {
		case m.Type == "output" && m.Stream == "stdout":
			stdout.WriteString(m.Data)
		case m.Type == "output" && m.Stream == "stderr":
			stderr.WriteString(m.Data)
		default:
			t.Fatalf("got %+v", m)
		}
	}
	if stdout.String() != "one\n" || stderr.String() != "two\n" {
		t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Errorf("close: %v", err)
	}

	// The sandbox dies with the connection: the server's own gauge says
	// so (each try is a real request, bounded in number).
	gone := false
	for range 2000 {
		r := computemwtest.Do(t, ctx, "GET", srv.URL+"/metrics", "", nil)
		if strings.Contains(string(r.Raw), "\ncompute_active_sandboxes 0\n") {
			gone = true
			break
		}
	}
	if !gone {
		t.Error("the sandbox outlived its connection")
	}
	// The metrics at the root are governed as /api/metrics: a foreign
	// Host is refused on both.
	exampletest.CheckMetrics(t, srv, nil, "/metrics", "/api/metrics")
	srv.Stop(t)
}

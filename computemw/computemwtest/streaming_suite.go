package computemwtest

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/httpapi"
)

// StreamingSuite checks sessions, Server-Sent Events and the WebSocket
// protocol over an adapter's real server: path parameters, streamed output
// arriving as it is produced, and sandboxes destroyed with their
// connection.
func StreamingSuite(t *testing.T, h Harness) {
	t.Run("sessions", func(t *testing.T) {
		kit, fake := SuiteKit(t, computemw.Config{})
		base := h.Start(t, kit) + Prefix
		r := post(t, base+"/sandboxes", `{}`)
		id, _ := r.Body["sandboxId"].(string)
		if r.Status != 201 || id == "" {
			t.Fatalf("create: %d %s", r.Status, r.Raw)
		}
		if r := post(t, base+"/sandboxes/"+id+"/files", `{"action":"write","path":"a","content":"kept"}`); r.Status != 200 {
			t.Fatalf("write: %d %s", r.Status, r.Raw)
		}
		if r := post(t, base+"/sandboxes/"+id+"/files", `{"action":"read","path":"a"}`); r.Body["content"] != "kept" {
			t.Fatalf("read: %d %s", r.Status, r.Raw)
		}
		if r := Do(t, context.Background(), "GET", base+"/sandboxes/"+id, "", nil); r.Status != 200 || r.Body["sandboxId"] != id {
			t.Fatalf("get: %d %s", r.Status, r.Raw)
		}
		if r := Do(t, context.Background(), "GET", base+"/sandboxes/nope", "", nil); r.Status != 404 || r.Code() != "NOT_FOUND" {
			t.Fatalf("get unknown: %d %s", r.Status, r.Raw)
		}
		if r := Do(t, context.Background(), "DELETE", base+"/sandboxes/"+id, "", nil); r.Status != 204 {
			t.Fatalf("delete: %d %s", r.Status, r.Raw)
		}
		if fake.Live() != 0 {
			t.Errorf("%d sandboxes left", fake.Live())
		}
	})

	t.Run("event stream", func(t *testing.T) {
		kit, fake := SuiteKit(t, computemw.Config{})
		base := h.Start(t, kit) + Prefix
		id, _ := post(t, base+"/sandboxes", `{}`).Body["sandboxId"].(string)
		resp, err := http.Post(base+"/sandboxes/"+id+"/exec/stream", "application/json", strings.NewReader(`{"command":"lines 3"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("stream: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		var events []string
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if line := sc.Text(); line != "" {
				events = append(events, line)
			}
		}
		want := []string{`event: stdout`, `data: "line 1\n"`, `event: stdout`, `data: "line 2\n"`, `event: stdout`, `data: "line 3\n"`, `event: exit`, `data: {"exitCode":0}`}
		if strings.Join(events, "|") != strings.Join(want, "|") {
			t.Errorf("events %q, want %q", events, want)
		}
		Do(t, context.Background(), "DELETE", base+"/sandboxes/"+id, "", nil)
		if !fake.WaitLive(0, 5*time.Second) {
			t.Errorf("%d sandboxes left", fake.Live())
		}
	})

	t.Run("websocket", func(t *testing.T) {
		kit, fake := SuiteKit(t, computemw.Config{})
		base := h.Start(t, kit)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		ws, _, err := DialWS(t, ctx, base, nil)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		c := ws.Conn
		defer c.CloseNow()
		send, next := ws.Send, ws.Next
		send(httpapi.WSMessage{Type: "create-sandbox"})
		if m := next(); m.Type != "sandbox-ready" || m.SandboxID == "" {
			t.Fatalf("got %+v", m)
		}
		send(httpapi.WSMessage{Type: "execute", Command: "lines 2"})
		for _, want := range []string{"line 1\n", "line 2\n"} {
			if m := next(); m.Type != "output" || m.Data != want {
				t.Fatalf("got %+v, want output %q", m, want)
			}
		}
		if m := next(); m.Type != "execution-complete" || m.ExitCode == nil || *m.ExitCode != 0 {
			t.Fatalf("got %+v", m)
		}
		send(httpapi.WSMessage{Type: "execute", Command: "block"})
		<-fake.Started()
		c.Close(websocket.StatusNormalClosure, "")
		if !fake.WaitLive(0, 10*time.Second) {
			t.Fatalf("closing the socket left %d sandboxes", fake.Live())
		}
	})
}

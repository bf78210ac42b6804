package computemwtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/httpapi"
)

// GovernanceSuite checks over an adapter's real server that every way in —
// a route, the middleware's sandbox in an application's handler, an event
// stream, a WebSocket — takes the kit's one governed path: each execution
// is admitted, counted in compute_executions_total, logged once, charged
// to the quota and held to the role's time limit, and a caller without
// credentials creates nothing. It uses a [GovernedKit].
func GovernanceSuite(t *testing.T, h Harness) {
	type entry func(t *testing.T, base string, header map[string]string, command string) int
	body := func(command string) string { return fmt.Sprintf(`{"command":%q,"timeout":60000}`, command) }
	entries := map[string]entry{
		"route": func(t *testing.T, base string, header map[string]string, command string) int {
			return Do(t, context.Background(), http.MethodPost, base+Prefix+"/exec", body(command), header).Status
		},
		"middleware sandbox in a handler": func(t *testing.T, base string, header map[string]string, command string) int {
			return Do(t, context.Background(), http.MethodPost, base+RunPath, body(command), header).Status
		},
		"event stream": func(t *testing.T, base string, header map[string]string, command string) int {
			r := Do(t, context.Background(), http.MethodPost, base+Prefix+"/sandboxes", `{}`, header)
			id, _ := r.Body["sandboxId"].(string)
			if r.Status != 201 {
				return r.Status
			}
			defer Do(t, context.Background(), http.MethodDelete, base+Prefix+"/sandboxes/"+id, "", header)
			return streamStatus(t, base+Prefix+"/sandboxes/"+id+"/exec/stream", body(command), header)
		},
		"WebSocket": func(t *testing.T, base string, header map[string]string, command string) int {
			return webSocketStatus(t, base, header, command)
		},
	}
	for name, run := range entries {
		t.Run(name, func(t *testing.T) {
			g := GovernedKit(t)
			base := h.Start(t, g.Kit)
			creds := map[string]string{"X-API-Key": GovernedAPIKey}

			before := g.Snapshot(t)
			if s := run(t, base, creds, "echo governed"); s != 200 {
				t.Fatalf("echo: status %d", s)
			}
			g.CheckOneExecution(t, before, computemw.StatusSuccess)

			before = g.Snapshot(t)
			if s := run(t, base, creds, "sleep"); s != 408 {
				t.Fatalf("sleep: status %d, want 408 at the role's time limit", s)
			}
			g.CheckOneExecution(t, before, computemw.StatusTimeout)

			before = g.Snapshot(t)
			if s := run(t, base, nil, "echo denied"); s != 401 {
				t.Fatalf("no credentials: status %d, want 401", s)
			}
			g.CheckNothing(t, before)
		})
	}
}

// streamStatus posts body to an event-stream URL and returns the status
// its outcome maps to: the HTTP status of a refusal, the code of an
// "error" event, or 200 for an "exit".
func streamStatus(t *testing.T, url, body string, header map[string]string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return resp.StatusCode
	}
	status := 200
	sc := bufio.NewScanner(resp.Body)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: ") && event == "error":
			var e httpapi.ErrorBody
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &e); err != nil {
				t.Fatalf("error event: %v", err)
			}
			status = computemw.StatusOf(&computemw.Error{Code: e.Code})
		case strings.HasPrefix(line, "data: ") && event == "exit":
			return status
		}
	}
	t.Fatalf("event stream ended without exit: %v", sc.Err())
	return 0
}

// webSocketStatus runs command over the WebSocket protocol and returns the
// status its outcome maps to.
func webSocketStatus(t *testing.T, base string, header map[string]string, command string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hdr := http.Header{}
	for k, v := range header {
		hdr.Set(k, v)
	}
	c, resp, err := DialWS(t, ctx, base, hdr)
	if err != nil {
		if resp != nil {
			return resp.StatusCode
		}
		t.Fatalf("dial: %v", err)
	}
	defer c.Conn.CloseNow()
	send, next := c.Send, c.Next
	send(httpapi.WSMessage{Type: "create-sandbox"})
	if m := next(); m.Type != "sandbox-ready" {
		return computemw.StatusOf(&computemw.Error{Code: computemw.Code(m.Code)})
	}
	send(httpapi.WSMessage{Type: "execute", Command: command})
	status := 200
	for {
		switch m := next(); m.Type {
		case "error":
			status = computemw.StatusOf(&computemw.Error{Code: computemw.Code(m.Code)})
		case "execution-complete":
			c.Conn.Close(websocket.StatusNormalClosure, "")
			return status
		}
	}
}

//go:build linux

package local_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/computemw/kit/providers/local"
)

// TestContextsWebSocket drives a code context over the WebSocket
// protocol: output streams while the code runs, a running loop is
// interrupted (once its output arrived) and the context keeps its state.
func TestContextsWebSocket(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{p}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kit.Close(context.Background()) })
	srv := httptest.NewServer(computehttp.Handler(kit))
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	send := func(m httpapi.WSMessage) {
		t.Helper()
		b, _ := json.Marshal(m)
		if err := c.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
	}
	// next reads messages until one of type typ, collecting output.
	next := func(typ string) (httpapi.WSMessage, string) {
		t.Helper()
		var out strings.Builder
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				t.Fatalf("waiting for %s: %v", typ, err)
			}
			var m httpapi.WSMessage
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			switch {
			case m.Type == typ:
				return m, out.String()
			case m.Type == "output":
				out.WriteString(m.Data)
			case m.Type == "error":
				t.Fatalf("waiting for %s: error %s %s", typ, m.Code, m.Message)
			}
		}
	}

	send(httpapi.WSMessage{Type: "create-sandbox"})
	next("sandbox-ready")
	send(httpapi.WSMessage{Type: "context-create", Language: "python"})
	ready, _ := next("context-ready")
	id := ready.ContextID
	send(httpapi.WSMessage{Type: "context-execute", ContextID: id, Code: "x = 41"})
	next("context-result")
	send(httpapi.WSMessage{Type: "context-execute", ContextID: id, Code: "print(x + 1)"})
	if res, out := next("context-result"); out != "42\n" || *res.ExitCode != 0 {
		t.Fatalf("print(x + 1): %q %+v", out, res)
	}

	send(httpapi.WSMessage{Type: "context-execute", ContextID: id, Code: "print('looping', flush=True)\nwhile True: pass"})
	// The loop runs once its first line arrived.
	for seen := ""; !strings.Contains(seen, "looping\n"); {
		m, _ := next("output")
		seen += m.Data
	}
	send(httpapi.WSMessage{Type: "context-interrupt", ContextID: id})
	res, _ := next("context-result")
	if res.ExecutionError == nil || res.ExecutionError.Name != "KeyboardInterrupt" {
		t.Fatalf("interrupted: %+v", res)
	}
	send(httpapi.WSMessage{Type: "context-execute", ContextID: id, Code: "x"})
	if res, _ := next("context-result"); len(res.Results) != 1 || res.Results[0].Data["text/plain"] != "41" {
		t.Fatalf("x after the interrupt: %+v", res)
	}
	send(httpapi.WSMessage{Type: "context-execute", ContextID: "ctx-nope", Code: "x"})
	_, b, err := c.Read(ctx)
	var m httpapi.WSMessage
	if err != nil || json.Unmarshal(b, &m) != nil || m.Type != "error" || m.Code != string(computemw.CodeNotFound) {
		t.Fatalf("unknown context: %s %v", b, err)
	}
	c.Close(websocket.StatusNormalClosure, "")
}

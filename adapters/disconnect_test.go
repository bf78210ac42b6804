package adapters_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/computemw/kit/adapters/internal/harness"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/httpapi"
)

// A WebSocket client that leaves while its program runs is logged once,
// at Info: it is the client's doing, not an error of the server's.
func TestWebSocketDisconnectMidRunIsLoggedOnceAtInfo(t *testing.T) {
	logs := &logRecords{}
	kit := localKit(t, computemw.Config{Logger: slog.New(logs)})
	ws := dialWS(t, harness.NetHTTP(t, kit))
	ws.send(httpapi.WSMessage{Type: "create-sandbox"})
	if m := ws.next(); m.Type != "sandbox-ready" {
		t.Fatalf("got %+v", m)
	}
	ws.send(httpapi.WSMessage{Type: "execute", Command: "echo started; sleep 1000"})
	ws.until("output", "started\n")
	ws.c.Close(websocket.StatusGoingAway, "")
	waitFor(t, func() bool { return kit.Stats().Live == 0 })
	waitFor(t, func() bool { return len(logs.find("websocket")) > 0 })

	var errs, gone []string
	for _, r := range logs.find("") {
		if strings.HasPrefix(r, "ERROR") || strings.HasPrefix(r, "WARN") {
			errs = append(errs, r)
		}
		if strings.Contains(r, "websocket client") {
			gone = append(gone, r)
		}
	}
	if len(errs) != 0 {
		t.Errorf("logged as errors: %q", errs)
	}
	if len(gone) != 1 || !strings.HasPrefix(gone[0], "INFO") {
		t.Errorf("the client's leaving is logged %q, want once at Info", gone)
	}
}

package modal_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/computemw/kit/providers/modal"
)

func kitServer(t *testing.T, p computemw.Provider) string {
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{p}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kit.Close(context.Background()) })
	mux := http.NewServeMux()
	computehttp.Mount(mux, computemwtest.Prefix, kit)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// The kit's WebSocket protocol, served by the net/http adapter, over the
// Modal provider: a sandbox, an execution whose output streams, a
// terminal the provider does not offer, and the sandbox destroyed.
func TestWebSocketThroughKit(t *testing.T) {
	p, f := newProvider(t, modal.Options{})
	url := kitServer(t, p)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	ws, _, err := computemwtest.DialWS(t, ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.Send(httpapi.WSMessage{Type: "create-sandbox", Provider: "modal"})
	ready := ws.Next()
	if ready.Type != "sandbox-ready" || ready.Provider != "modal" || !slices.Contains(f.Live(), ready.SandboxID) {
		t.Fatalf("got %+v; want sandbox-ready for a sandbox live on the fake (%v)", ready, f.Live())
	}
	ws.Send(httpapi.WSMessage{Type: "execute", Command: "echo one; echo two >&2; exit 3"})
	var stdout, stderr string
	for done := false; !done; {
		m := ws.Next()
		switch {
		case m.Type == "output" && m.Stream == "stdout":
			stdout += m.Data
		case m.Type == "output" && m.Stream == "stderr":
			stderr += m.Data
		case m.Type == "execution-complete":
			if m.ExitCode == nil || *m.ExitCode != 3 {
				t.Errorf("execution-complete %+v, want exit code 3", m)
			}
			done = true
		default:
			t.Fatalf("unexpected message %+v", m)
		}
	}
	if stdout != "one\n" || stderr != "two\n" {
		t.Errorf("streamed stdout %q, stderr %q", stdout, stderr)
	}
	ws.Send(httpapi.WSMessage{Type: "terminal-start", Command: "sh", Cols: 80, Rows: 24})
	if m := ws.Next(); m.Type != "error" || !strings.Contains(m.Message, "not supported by provider") {
		t.Errorf("terminal-start: %+v, want the provider's not supported", m)
	}
	ws.Send(httpapi.WSMessage{Type: "destroy-sandbox"})
	if err := f.WaitNoneLive(ctx); err != nil {
		t.Error(err)
	}
	_ = ws.Conn.CloseNow()
}

// Server-Sent Events: an execution's output arrives line by line as the
// program prints it.
func TestEventStreamThroughKit(t *testing.T) {
	p, _ := newProvider(t, modal.Options{})
	url := kitServer(t, p) + computemwtest.Prefix
	created, err := http.Post(url+"/sandboxes", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	var sb struct {
		SandboxID string `json:"sandboxId"`
	}
	err = json.NewDecoder(created.Body).Decode(&sb)
	created.Body.Close()
	if err != nil || sb.SandboxID == "" {
		t.Fatalf("create: %d %v", created.StatusCode, err)
	}
	resp, err := http.Post(url+"/sandboxes/"+sb.SandboxID+"/exec/stream", "application/json", strings.NewReader(`{"command":"echo first; echo second"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var all strings.Builder
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		all.WriteString(sc.Text() + "\n")
	}
	if !strings.Contains(all.String(), "first") || !strings.Contains(all.String(), "second") {
		t.Errorf("event stream: %q", all.String())
	}
}

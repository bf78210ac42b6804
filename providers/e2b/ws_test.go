package e2b_test

import (
	"context"
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
)

// The kit's WebSocket protocol, served by the net/http adapter, over the
// E2B provider: a sandbox, an execution whose output streams, and a
// terminal that is typed into and resized.
func TestWebSocketThroughKit(t *testing.T) {
	p, f := newProvider(t, nil)
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{p}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kit.Close(context.Background()) })
	mux := http.NewServeMux()
	computehttp.Mount(mux, computemwtest.Prefix, kit)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	ws, _, err := computemwtest.DialWS(t, ctx, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.Send(httpapi.WSMessage{Type: "create-sandbox", Provider: "e2b"})
	ready := ws.Next()
	if ready.Type != "sandbox-ready" || ready.Provider != "e2b" || !slices.Contains(f.Live(), ready.SandboxID) {
		t.Fatalf("got %+v; want sandbox-ready for a sandbox live on the fake (%v)", ready, f.Live())
	}

	ws.Send(httpapi.WSMessage{Type: "execute", Command: "echo one; echo two >&2; exit 3"})
	var stdout, stderr string
	for {
		m := ws.Next()
		if m.Type == "output" && m.Stream == "stdout" {
			stdout += m.Data
		} else if m.Type == "output" && m.Stream == "stderr" {
			stderr += m.Data
		} else if m.Type == "execution-complete" {
			if m.ExitCode == nil || *m.ExitCode != 3 {
				t.Errorf("execution-complete %+v, want exit code 3", m)
			}
			break
		} else {
			t.Fatalf("unexpected message %+v", m)
		}
	}
	if stdout != "one\n" || stderr != "two\n" {
		t.Errorf("streamed stdout %q, stderr %q", stdout, stderr)
	}

	ws.Send(httpapi.WSMessage{Type: "terminal-start", Command: "sh", Cols: 100, Rows: 30})
	ws.Send(httpapi.WSMessage{Type: "terminal-input", Data: "stty size\n"})
	readTerminal(t, ws, "30 100")
	ws.Send(httpapi.WSMessage{Type: "terminal-resize", Cols: 120, Rows: 40})
	ws.Send(httpapi.WSMessage{Type: "terminal-input", Data: "stty size; exit 5\n"})
	out, exit := readTerminal(t, ws, "")
	if !strings.Contains(out, "40 120") {
		t.Errorf("after the resize the terminal printed %q, want 40 120", out)
	}
	if exit == nil || *exit != 5 {
		t.Errorf("terminal-exit code %v, want 5", exit)
	}

	ws.Send(httpapi.WSMessage{Type: "destroy-sandbox"})
	if err := f.WaitNoneLive(ctx); err != nil {
		t.Error(err)
	}
	_ = ws.Conn.CloseNow()
}

// readTerminal reads terminal output until it contains want (when set) or
// the terminal exits; it returns the output and the exit code, if any.
func readTerminal(t *testing.T, ws *computemwtest.WSClient, want string) (string, *int) {
	t.Helper()
	var out strings.Builder
	for {
		m := ws.Next()
		switch m.Type {
		case "terminal-output":
			out.WriteString(m.Data)
			if want != "" && strings.Contains(out.String(), want) {
				return out.String(), nil
			}
		case "terminal-exit":
			if want != "" {
				t.Fatalf("the terminal exited before printing %q: %q", want, out.String())
			}
			return out.String(), m.ExitCode
		default:
			t.Fatalf("unexpected message %+v (output so far %q)", m, out.String())
		}
	}
}

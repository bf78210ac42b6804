package k8sfake

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/httpapi"
)

// Serve runs a kit over the provider behind the net/http adapter on a
// loopback server; t's cleanup closes both. It returns the route group's
// base URL.
func Serve(t *testing.T, cfg computemw.Config) string {
	t.Helper()
	kit, err := computemw.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := kit.Close(ctx); err != nil {
			t.Errorf("kit.Close: %v", err)
		}
	})
	mux := http.NewServeMux()
	computehttp.Mount(mux, computemwtest.Prefix, kit)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// Call sends one JSON request and decodes the answer.
func Call(t *testing.T, method, url, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

// WebSocketSuite runs the kit's WebSocket protocol over the provider: a
// sandbox, an execution whose output streams, stdin, a terminal typed
// into and resized, and the sandbox's destruction.
func WebSocketSuite(t *testing.T, p computemw.Provider) {
	base := Serve(t, computemw.Config{Providers: []computemw.Provider{p}})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	ws, _, err := computemwtest.DialWS(t, ctx, base, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Conn.CloseNow()
	ws.Send(httpapi.WSMessage{Type: "create-sandbox", Provider: p.Name()})
	if ready := ws.Next(); ready.Type != "sandbox-ready" || ready.SandboxID == "" {
		t.Fatalf("got %+v; want sandbox-ready", ready)
	}

	ws.Send(httpapi.WSMessage{Type: "execute", Command: "echo one; echo two >&2; exit 3"})
	stdout, stderr, code := readExecution(t, ws)
	if stdout != "one\n" || stderr != "two\n" || code != 3 {
		t.Errorf("streamed stdout %q, stderr %q, exit %d", stdout, stderr, code)
	}
	ws.Send(httpapi.WSMessage{Type: "execute", Command: "head -n1; echo done"})
	ws.Send(httpapi.WSMessage{Type: "stdin", Data: "typed\n"})
	if stdout, _, code := readExecution(t, ws); stdout != "typed\ndone\n" || code != 0 {
		t.Errorf("execution with stdin: %q, exit %d", stdout, code)
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
}

func readExecution(t *testing.T, ws *computemwtest.WSClient) (stdout, stderr string, code int) {
	t.Helper()
	for {
		m := ws.Next()
		switch {
		case m.Type == "output" && m.Stream == "stdout":
			stdout += m.Data
		case m.Type == "output" && m.Stream == "stderr":
			stderr += m.Data
		case m.Type == "execution-complete":
			if m.ExitCode == nil {
				t.Fatalf("execution-complete without an exit code: %+v", m)
			}
			return stdout, stderr, *m.ExitCode
		default:
			t.Fatalf("unexpected message %+v", m)
		}
	}
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

// SharedSessionSuite runs two kit instances, each with its own provider
// (as two replicas of a Deployment), sharing store: a session created on
// one is served by the other (exec, files), and deleted there.
func SharedSessionSuite(t *testing.T, p1, p2 computemw.Provider, store computemw.SessionStore) {
	one := Serve(t, computemw.Config{Providers: []computemw.Provider{p1}, SessionStore: store, InstanceID: "one"}) + computemwtest.Prefix
	two := Serve(t, computemw.Config{Providers: []computemw.Provider{p2}, SessionStore: store, InstanceID: "two"}) + computemwtest.Prefix
	code, body := Call(t, "POST", one+"/sandboxes", `{"metadata":{"course":"k8s"}}`)
	id, _ := body["sandboxId"].(string)
	if code != 201 || id == "" {
		t.Fatalf("create on one: %d %v", code, body)
	}
	if code, body := Call(t, "POST", one+"/sandboxes/"+id+"/files", `{"action":"write","path":"shared.txt","content":"from one"}`); code != 200 {
		t.Fatalf("write on one: %d %v", code, body)
	}
	if code, body := Call(t, "POST", two+"/sandboxes/"+id+"/exec", `{"command":"cat shared.txt; echo; echo from two > two.txt"}`); code != 200 || body["output"] != "from one\n" {
		t.Fatalf("exec on two: %d %v", code, body)
	}
	if code, body := Call(t, "POST", one+"/sandboxes/"+id+"/files", `{"action":"read","path":"two.txt"}`); code != 200 || body["content"] != "from two\n" {
		t.Fatalf("read on one: %d %v", code, body)
	}
	if code, body := Call(t, "DELETE", two+"/sandboxes/"+id, ``); code != 204 {
		t.Fatalf("delete on two: %d %v", code, body)
	}
	if code, body := Call(t, "GET", one+"/sandboxes/"+id, ``); code != 404 {
		t.Errorf("one still serves the deleted session: %d %v", code, body)
	}
}

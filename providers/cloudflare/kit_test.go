package cloudflare_test

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
	"github.com/computemw/kit/providers/cloudflare"
)

// kitServer serves a kit over the provider with the net/http adapter.
func kitServer(t *testing.T, p *cloudflare.Provider) string {
	t.Helper()
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{p}})
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

func postJSON(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s: decoding: %v", url, err)
	}
	return resp.StatusCode, out
}

// The whole path over real HTTP: the kit's stateless routes, a session
// with its files and a Server-Sent Events stream whose output arrives as
// it is produced.
func TestKitOverNetHTTP(t *testing.T) {
	p, f := newProvider(t, nil)
	base := kitServer(t, p) + computemwtest.Prefix

	code, body := postJSON(t, base+"/exec", `{"command":"echo out; echo err >&2; exit 2","env":{"X":"y"}}`)
	if code != 200 || body["output"] != "out\n" || body["stderr"] != "err\n" || body["exitCode"] != 2.0 ||
		body["success"] != false || body["provider"] != "cloudflare" {
		t.Errorf("/exec: %d %v", code, body)
	}
	code, body = postJSON(t, base+"/exec", `{"command":"cat","stdin":"from stdin"}`)
	if code != 200 || body["output"] != "from stdin" {
		t.Errorf("/exec with stdin: %d %v", code, body)
	}
	code, body = postJSON(t, base+"/execute", `{"language":"sh","code":"echo \"$1-$X\"","env":{"X":"x"}}`)
	if code != 200 || body["success"] != true {
		t.Errorf("/execute sh: %d %v", code, body)
	}
	code, body = postJSON(t, base+"/execute", `{"language":"cobol","code":"x"}`)
	if code != 400 || body["code"] != "EXECUTION_ERROR" {
		t.Errorf("/execute with a language the bridge lacks: %d %v", code, body)
	}
	code, body = postJSON(t, base+"/exec", `{"command":"sleep 1000","timeout":300}`)
	if code != 408 || body["code"] != "TIMEOUT" {
		t.Errorf("/exec past its timeout: %d %v", code, body)
	}

	code, body = postJSON(t, base+"/sandboxes", `{}`)
	id, _ := body["sandboxId"].(string)
	if code != 201 || !slices.Contains(f.Live(), id) {
		t.Fatalf("create session: %d %v (live %v)", code, body, f.Live())
	}
	code, body = postJSON(t, base+"/sandboxes/"+id+"/files", `{"action":"write","path":"dir/a.txt","content":"kept"}`)
	if code != 200 {
		t.Fatalf("write: %d %v", code, body)
	}
	code, body = postJSON(t, base+"/sandboxes/"+id+"/files", `{"action":"list","path":"dir"}`)
	if files, _ := body["files"].([]any); code != 200 || len(files) != 1 {
		t.Errorf("list: %d %v", code, body)
	}
	resp, err := http.Post(base+"/sandboxes/"+id+"/exec/stream", "application/json",
		strings.NewReader(`{"command":"for i in 1 2 3; do echo line $i; done; exit 1"}`))
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line := sc.Text(); line != "" {
			events = append(events, line)
		}
	}
	resp.Body.Close()
	joined := strings.Join(events, "|")
	if resp.StatusCode != 200 || !strings.Contains(joined, `line 3`) || !strings.HasSuffix(joined, `event: exit|data: {"exitCode":1}`) {
		t.Errorf("event stream: %d %q", resp.StatusCode, events)
	}
	req, _ := http.NewRequest(http.MethodDelete, base+"/sandboxes/"+id, nil)
	dresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	dresp.Body.Close()
	if dresp.StatusCode != 204 || len(f.Live()) != 0 {
		t.Errorf("delete: %d, live %v", dresp.StatusCode, f.Live())
	}
}

// The kit's WebSocket protocol over the provider: a sandbox, an execution
// whose output streams, and a terminal on the bridge's PTY that is typed
// into, resized and exits.
func TestWebSocketThroughKit(t *testing.T) {
	p, f := newProvider(t, nil)
	base := kitServer(t, p)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	ws, _, err := computemwtest.DialWS(t, ctx, base, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.Send(httpapi.WSMessage{Type: "create-sandbox", Provider: "cloudflare"})
	ready := ws.Next()
	if ready.Type != "sandbox-ready" || ready.Provider != "cloudflare" || !slices.Contains(f.Live(), ready.SandboxID) {
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

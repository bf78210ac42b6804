package vercel_test

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/computemw/kit/providers/vercel"
	"github.com/computemw/kit/providers/vercel/vercelfake"
)

// kitServer serves a kit with the Vercel provider behind the net/http
// adapter, on loopback; the kit logs into logs when it is not nil.
func kitServer(t *testing.T, p *vercel.Provider, logs ...*syncBuffer) string {
	cfg := computemw.Config{Providers: []computemw.Provider{p}}
	if len(logs) > 0 {
		cfg.Logger = slog.New(slog.NewTextHandler(logs[0], &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
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

func post(t *testing.T, url, body string) (*http.Response, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if resp.StatusCode != http.StatusNoContent {
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("%s: decoding: %v", url, err)
		}
	}
	return resp, out
}

// The whole path over real HTTP: stateless executions, and the vendor's
// failures reaching the client with the kit's status, code and
// Retry-After; nothing is left on the vendor's books.
func TestKitOverNetHTTP(t *testing.T) {
	// After a 503 to a create, the provider looks for the sandbox to
	// delete it for CleanupWindow; Close waits for that.
	p, fake := newProvider(t, vercelfake.Options{StartPolls: 1}, vercel.Options{CleanupWindow: 300 * time.Millisecond})
	logs := &syncBuffer{}
	base := kitServer(t, p, logs) + computemwtest.Prefix
	t.Cleanup(func() {
		if out := logs.String(); !strings.Contains(out, "createSandbox") || strings.Contains(out, fake.Token) {
			t.Errorf("the kit's logs lack the vendor's errors or show the token:\n%s", out)
		}
	})

	resp, body := post(t, base+"/exec", `{"command":"echo out; echo err >&2; exit 2","env":{"X":"y"}}`)
	if resp.StatusCode != 200 || body["output"] != "out\n" || body["stderr"] != "err\n" || body["exitCode"] != 2.0 ||
		body["provider"] != "vercel" {
		t.Errorf("/exec: %d %v", resp.StatusCode, body)
	}
	resp, body = post(t, base+"/exec", `{"command":"cat","stdin":"from stdin"}`)
	if resp.StatusCode != 200 || body["output"] != "from stdin" {
		t.Errorf("/exec with stdin: %d %v", resp.StatusCode, body)
	}
	resp, body = post(t, base+"/exec", `{"command":"sleep 1000","timeout":300}`)
	if resp.StatusCode != 408 || body["code"] != "TIMEOUT" {
		t.Errorf("/exec past its timeout: %d %v", resp.StatusCode, body)
	}
	for _, tc := range []struct {
		fault  vercelfake.Fault
		status int
		code   string
	}{
		{vercelfake.Fault{Op: "createSandbox", Status: 429, RetryAfter: 9 * time.Second}, 429, "RATE_LIMITED"},
		{vercelfake.Fault{Op: "createSandbox", Status: 503}, 503, "UNAVAILABLE"},
		{vercelfake.Fault{Op: "createSandbox", Status: 507}, 507, "RESOURCE_ERROR"},
		{vercelfake.Fault{Op: "createSandbox", Status: 400}, 400, "BAD_REQUEST"},
		{vercelfake.Fault{Op: "runCommand", Status: 404}, 404, "NOT_FOUND"},
	} {
		fake.Inject(tc.fault)
		resp, body := post(t, base+"/exec", `{"command":"true"}`)
		if resp.StatusCode != tc.status || body["code"] != tc.code {
			t.Errorf("%+v: %d %v, want %d %s", tc.fault, resp.StatusCode, body, tc.status, tc.code)
		}
		if tc.fault.RetryAfter > 0 && resp.Header.Get("Retry-After") != "9" {
			t.Errorf("Retry-After %q, want the vendor's 9", resp.Header.Get("Retry-After"))
		}
		if raw, _ := json.Marshal(body); strings.Contains(string(raw), fake.Token) {
			t.Errorf("the answer shows the token: %v", body)
		}
		if !fake.WaitFor(10*time.Second, func() bool { return len(fake.Live()) == 0 && fake.Running() == 0 }) {
			t.Errorf("after %+v: live %v", tc.fault, fake.Live())
		}
	}
	if fake.Made() < 4 {
		t.Errorf("the fake made %d sandboxes for 4+ stateless requests", fake.Made())
	}
}

// A session's execution streams over Server-Sent Events as the program
// writes, and the session's sandbox is stopped with its deletion.
func TestEventStreamThroughKit(t *testing.T) {
	p, fake := newProvider(t, vercelfake.Options{}, vercel.Options{})
	base := kitServer(t, p) + computemwtest.Prefix
	resp, body := post(t, base+"/sandboxes", `{}`)
	id, _ := body["sandboxId"].(string)
	if resp.StatusCode != 201 || !slices.Contains(fake.Live(), id) {
		t.Fatalf("create: %d %v (live %v)", resp.StatusCode, body, fake.Live())
	}
	resp, err := http.Post(base+"/sandboxes/"+id+"/exec/stream", "application/json",
		strings.NewReader(`{"command":"for i in 1 2 3; do echo line $i; done; echo oops >&2; exit 1"}`))
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
	got := strings.Join(events, "|")
	for _, want := range []string{`data: "line 1\n`, `line 3\n"`, `event: stderr|data: "oops\n"`, `event: exit|data: {"exitCode":1}`} {
		if !strings.Contains(got, want) {
			t.Errorf("events %q lack %q", got, want)
		}
	}
	req, _ := http.NewRequest("DELETE", base+"/sandboxes/"+id, nil)
	dresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	dresp.Body.Close()
	if dresp.StatusCode != 204 || len(fake.Live()) != 0 {
		t.Errorf("delete: %d, live %v", dresp.StatusCode, fake.Live())
	}
}

// The kit's WebSocket protocol over the Vercel provider: a sandbox, an
// execution whose output streams, a terminal that is typed into and
// resized, and the sandbox stopped on request.
func TestWebSocketThroughKit(t *testing.T) {
	p, fake := newProvider(t, vercelfake.Options{}, vercel.Options{})
	url := kitServer(t, p)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	ws, _, err := computemwtest.DialWS(t, ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.Send(httpapi.WSMessage{Type: "create-sandbox", Provider: "vercel"})
	ready := ws.Next()
	if ready.Type != "sandbox-ready" || ready.Provider != "vercel" || !slices.Contains(fake.Live(), ready.SandboxID) {
		t.Fatalf("got %+v; want sandbox-ready for a sandbox live on the fake (%v)", ready, fake.Live())
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
	if !fake.WaitFor(10*time.Second, func() bool { return len(fake.Live()) == 0 }) {
		t.Errorf("live after destroy-sandbox: %v", fake.Live())
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

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func jsonDecode(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }

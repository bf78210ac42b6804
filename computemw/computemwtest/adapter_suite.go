package computemwtest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/fakeprovider"
	"github.com/computemw/kit/computemw/prommetrics"
)

// Paths every adapter harness serves besides the route group.
const (
	// Prefix is where the harness mounts the prebuilt route group.
	Prefix = "/api"
	// SandboxPath is a GET route behind the adapter's sandbox middleware
	// whose handler answers 200 with the JSON of [SandboxInfoFor].
	SandboxPath = "/mw/sandbox"
	// PanicPath is a GET route behind the middleware whose handler panics.
	PanicPath = "/mw/panic"
	// ErrorPath is a GET route behind the middleware whose handler hands
	// [SuiteError] to the framework's own error path (return it, abort with
	// it, or write it with the adapter's error writer).
	ErrorPath = "/mw/error"
)

// SandboxInfo is what the handler at SandboxPath reports.
type SandboxInfo struct {
	SandboxID string `json:"sandboxId"`
	Provider  string `json:"provider"`
	RequestID string `json:"requestId"`
}

// SandboxInfoFor describes the request's sandbox from its context; a
// harness's SandboxPath handler responds with it.
func SandboxInfoFor(ctx context.Context) SandboxInfo {
	info := SandboxInfo{RequestID: computemw.RequestIDFrom(ctx)}
	if sb := computemw.SandboxFrom(ctx); sb != nil {
		info.SandboxID, info.Provider = sb.ID(), sb.Provider()
	}
	return info
}

// SuiteError is the error the ErrorPath handler returns: 429 RATE_LIMITED
// with Retry-After: 3.
func SuiteError() error {
	return &computemw.Error{Code: computemw.CodeRateLimited, Message: "suite rate limit", RetryAfter: 3 * time.Second}
}

// Harness starts one adapter's real server for [AdapterSuite].
type Harness struct {
	// Name names the adapter in test output.
	Name string
	// Start serves kit on a new server listening on 127.0.0.1: the route
	// group under Prefix, and SandboxPath, RunPath, PanicPath and ErrorPath
	// behind the adapter's middleware. A panic must not stop the server (install
	// the framework's recover middleware where it has one). It returns the
	// base URL ("http://127.0.0.1:PORT") and stops the server in
	// t.Cleanup.
	Start func(t *testing.T, kit *computemw.Kit) string
}

// SuiteKit builds a kit over a fresh [fakeprovider.Provider] for adapter
// tests; cfg's Providers are set by it, and its Metrics (Prometheus) and
// Logger when nil. At cleanup it closes the kit
// and fails the test if any sandbox is left.
func SuiteKit(t testing.TB, cfg computemw.Config) (*computemw.Kit, *fakeprovider.Provider) {
	t.Helper()
	fake := fakeprovider.New("fake")
	return kitOver(t, cfg, fake, fake), fake
}

// kitOver builds a kit over prov (fake itself, or a wrapper of it) that is
// closed at cleanup, failing the test if any of fake's sandboxes is left.
func kitOver(t testing.TB, cfg computemw.Config, fake *fakeprovider.Provider, prov computemw.Provider) *computemw.Kit {
	t.Helper()
	cfg.Providers = []computemw.Provider{prov}
	if cfg.Metrics == nil {
		cfg.Metrics = prommetrics.New(prommetrics.Options{})
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	kit, err := computemw.New(cfg)
	if err != nil {
		t.Fatalf("computemw.New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := kit.Close(ctx); err != nil {
			t.Errorf("kit.Close: %v", err)
		}
		if !fake.WaitLive(0, 10*time.Second) {
			t.Errorf("%d sandboxes still live after the test", fake.Live())
		}
		if fake.Created() != fake.Destroyed() {
			t.Errorf("created %d sandboxes, destroyed %d", fake.Created(), fake.Destroyed())
		}
	})
	return kit
}

// Reply is a decoded HTTP response.
type Reply struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    []byte
}

// Code is the "code" field of the body, or "".
func (r *Reply) Code() string {
	s, _ := r.Body["code"].(string)
	return s
}

// Do sends one request and decodes a JSON object body (if any). A
// non-empty body is sent as application/json unless header names a
// Content-Type (an empty value sends none).
func Do(t testing.TB, ctx context.Context, method, url, body string, header map[string]string) *Reply {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	for k, v := range header {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	if _, set := header["Content-Type"]; body != "" && !set {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	r := &Reply{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if len(bytes.TrimSpace(raw)) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			t.Fatalf("%s %s: body is not JSON: %v: %s", method, url, err, raw)
		}
	}
	return r
}

func post(t testing.TB, url, body string) *Reply {
	t.Helper()
	return Do(t, context.Background(), http.MethodPost, url, body, map[string]string{"Content-Type": "application/json"})
}

// expectError checks an error reply's status, code and body shape.
func expectError(t testing.TB, r *Reply, status int, code computemw.Code) {
	t.Helper()
	if r.Status != status || r.Code() != string(code) {
		t.Fatalf("got %d %q, want %d %q; body %s", r.Status, r.Code(), status, code, r.Raw)
	}
	if msg, _ := r.Body["error"].(string); msg == "" {
		t.Errorf("error body has no message: %s", r.Raw)
	}
	if id, _ := r.Body["requestId"].(string); id == "" || r.Header.Get(computemw.RequestIDHeader) != id {
		t.Errorf("requestId %q does not match X-Request-ID %q", id, r.Header.Get(computemw.RequestIDHeader))
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
}

// AdapterSuite runs the HTTP contract against an adapter's real server:
// statuses, codes and JSON shapes of the route group, the middleware's
// sandbox-per-request lifecycle (also on panic, handler error and client
// disconnect), the capacity cap, and error rendering; then [PolicySuite],
// [GovernanceSuite] and [StreamingSuite].
func AdapterSuite(t *testing.T, h Harness) {
	t.Run("policies", func(t *testing.T) { PolicySuite(t, h) })
	t.Run("governance", func(t *testing.T) { GovernanceSuite(t, h) })
	t.Run("streaming", func(t *testing.T) { StreamingSuite(t, h) })
	t.Run("execute", func(t *testing.T) {
		kit, fake := SuiteKit(t, computemw.Config{})
		base := h.Start(t, kit)
		r := post(t, base+Prefix+"/execute", `{"language":"python","code":"echo 4"}`)
		if r.Status != 200 {
			t.Fatalf("status %d: %s", r.Status, r.Raw)
		}
		for _, k := range []string{"success", "output", "stderr", "exitCode", "executionTime", "sandboxId", "provider", "truncated"} {
			if _, ok := r.Body[k]; !ok {
				t.Errorf("response lacks %q: %s", k, r.Raw)
			}
		}
		if r.Body["success"] != true || r.Body["output"] != "4\n" || r.Body["provider"] != "fake" {
			t.Errorf("unexpected body %s", r.Raw)
		}
		if r.Header.Get(computemw.RequestIDHeader) == "" {
			t.Error("no X-Request-ID header")
		}
		if !fake.WaitLive(0, 5*time.Second) || fake.Created() != 1 {
			t.Errorf("sandbox lifecycle: created %d, live %d", fake.Created(), fake.Live())
		}
	})

	t.Run("exec", func(t *testing.T) {
		kit, _ := SuiteKit(t, computemw.Config{})
		base := h.Start(t, kit)
		r := post(t, base+Prefix+"/exec", `{"command":"exit 3"}`)
		if r.Status != 200 || r.Body["success"] != false || r.Body["exitCode"] != float64(3) {
			t.Fatalf("non-zero exit must be 200 success:false exitCode:3, got %d %s", r.Status, r.Raw)
		}
		r = post(t, base+Prefix+"/exec", `{"command":"stderr oops"}`)
		if r.Status != 200 || r.Body["stderr"] != "oops\n" {
			t.Fatalf("stderr: %d %s", r.Status, r.Raw)
		}
	})

	t.Run("strict exit code", func(t *testing.T) {
		kit, _ := SuiteKit(t, computemw.Config{StrictExitCode: true})
		base := h.Start(t, kit)
		r := post(t, base+Prefix+"/exec", `{"command":"exit 2"}`)
		expectError(t, r, 400, computemw.CodeExecution)
	})

	t.Run("bad input", func(t *testing.T) {
		kit, fake := SuiteKit(t, computemw.Config{MaxBodyBytes: 4096})
		base := h.Start(t, kit)
		cases := []struct {
			name, path, body string
			status           int
			code             computemw.Code
		}{
			{"malformed json", "/execute", `{"language":`, 400, computemw.CodeBadRequest},
			{"not an object", "/execute", `[1,2]`, 400, computemw.CodeBadRequest},
			{"trailing data", "/execute", `{"language":"python","code":"echo x"} {}`, 400, computemw.CodeBadRequest},
			{"empty body", "/execute", ``, 400, computemw.CodeBadRequest},
			{"missing code", "/execute", `{"language":"python"}`, 400, computemw.CodeBadRequest},
			{"missing language", "/execute", `{"code":"echo x"}`, 400, computemw.CodeBadRequest},
			{"wrong type", "/execute", `{"language":"python","code":"echo x","timeout":"soon"}`, 400, computemw.CodeBadRequest},
			{"negative timeout", "/execute", `{"language":"python","code":"echo x","timeout":-1}`, 400, computemw.CodeBadRequest},
			{"huge timeout", "/execute", `{"language":"python","code":"echo x","timeout":1e12}`, 400, computemw.CodeBadRequest},
			{"bad env", "/exec", `{"command":"true","env":{"A=B":"c"}}`, 400, computemw.CodeBadRequest},
			{"unknown language", "/execute", `{"language":"cobol","code":"echo x"}`, 400, computemw.CodeExecution},
			{"unknown provider", "/execute", `{"language":"python","code":"echo x","provider":"nope"}`, 400, computemw.CodeBadRequest},
			{"missing command", "/exec", `{"cwd":"/"}`, 400, computemw.CodeBadRequest},
			{"too large", "/exec", `{"command":"` + strings.Repeat("x", 8192) + `"}`, 413, computemw.CodePayloadTooLarge},
			{"invalid action", "/files", `{"action":"chmod","path":"a"}`, 400, computemw.CodeBadRequest},
			{"files missing path", "/files", `{"action":"read"}`, 400, computemw.CodeBadRequest},
			{"files dotdot", "/files", `{"action":"read","path":"../../etc/passwd"}`, 400, computemw.CodeBadRequest},
			{"files absolute", "/files", `{"action":"write","path":"/etc/passwd","content":"x"}`, 400, computemw.CodeBadRequest},
			{"files bad base64", "/files", `{"action":"write","path":"a","content":"!!","encoding":"base64"}`, 400, computemw.CodeBadRequest},
			{"files bad encoding", "/files", `{"action":"write","path":"a","content":"x","encoding":"rot13"}`, 400, computemw.CodeBadRequest},
			{"unknown sandbox", "/exec", `{"command":"true","sandboxId":"nope"}`, 404, computemw.CodeNotFound},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := post(t, base+Prefix+c.path, c.body)
				expectError(t, r, c.status, c.code)
			})
		}
		// A body the JSON routes do not take: 415, before anything is read.
		for name, hdr := range map[string]map[string]string{
			"form":           {"Content-Type": "application/x-www-form-urlencoded"},
			"text/plain":     {"Content-Type": "text/plain;charset=UTF-8"},
			"no type":        {"Content-Type": ""},
			"gzip":           {"Content-Type": "application/json", "Content-Encoding": "gzip"},
			"chained coding": {"Content-Type": "application/json", "Content-Encoding": "deflate, br"},
		} {
			r := Do(t, context.Background(), http.MethodPost, base+Prefix+"/exec", `{"command":"echo x"}`, hdr)
			if r.Status != 415 || r.Code() != string(computemw.CodeUnsupportedMedia) {
				t.Errorf("%s body: %d %s, want 415 UNSUPPORTED_MEDIA_TYPE", name, r.Status, r.Raw)
			}
		}
		r := post(t, base+Prefix+"/files", `{"action":"chmod","path":"a"}`)
		if r.Body["error"] != "Invalid action" {
			t.Errorf("invalid action message: %s", r.Raw)
		}
		// The server keeps serving, and validation created no sandbox.
		if r := post(t, base+Prefix+"/exec", `{"command":"echo alive"}`); r.Status != 200 || r.Body["output"] != "alive\n" {
			t.Fatalf("server after bad input: %d %s", r.Status, r.Raw)
		}
		if !fake.WaitLive(0, 5*time.Second) {
			t.Errorf("%d sandboxes left", fake.Live())
		}
	})

	t.Run("method not allowed", func(t *testing.T) {
		kit, _ := SuiteKit(t, computemw.Config{})
		base := h.Start(t, kit)
		r := Do(t, context.Background(), http.MethodGet, base+Prefix+"/execute", "", nil)
		expectError(t, r, 405, computemw.CodeMethodNotAllowed)
		if r.Header.Get("Allow") != http.MethodPost {
			t.Errorf("Allow %q", r.Header.Get("Allow"))
		}
	})

	t.Run("errors from the provider", func(t *testing.T) {
		kit, fake := SuiteKit(t, computemw.Config{})
		base := h.Start(t, kit)
		r := post(t, base+Prefix+"/execute", `{"language":"bash","code":"sleep","timeout":50}`)
		expectError(t, r, 408, computemw.CodeTimeout)
		if d, _ := r.Body["details"].(map[string]any); d["output"] != "started\n" {
			t.Errorf("timeout details must carry the partial output: %s", r.Raw)
		}
		r = post(t, base+Prefix+"/execute", `{"language":"bash","code":"oom"}`)
		expectError(t, r, 507, computemw.CodeResource)
		r = post(t, base+Prefix+"/exec", `{"command":"fail"}`)
		expectError(t, r, 500, computemw.CodeInternal)
		if bytes.Contains(r.Raw, []byte("secret")) || bytes.Contains(r.Raw, []byte("/var/lib")) {
			t.Errorf("internal detail leaked: %s", r.Raw)
		}
		r = post(t, base+Prefix+"/exec", `{"command":"big"}`)
		if r.Status != 200 || r.Body["truncated"] != true {
			t.Errorf("truncated output: %d %s", r.Status, r.Raw)
		}
		if !fake.WaitLive(0, 5*time.Second) {
			t.Errorf("%d sandboxes left", fake.Live())
		}
	})

	t.Run("problem details", func(t *testing.T) {
		kit, _ := SuiteKit(t, computemw.Config{})
		base := h.Start(t, kit)
		r := Do(t, context.Background(), http.MethodPost, base+Prefix+"/execute", `{"code":"x"}`,
			map[string]string{"Accept": "application/problem+json"})
		if r.Status != 400 || r.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("got %d %q", r.Status, r.Header.Get("Content-Type"))
		}
		if r.Body["code"] != "BAD_REQUEST" || r.Body["status"] != float64(400) || r.Body["title"] != "Bad Request" || r.Body["detail"] == nil {
			t.Errorf("problem body %s", r.Raw)
		}
	})

	t.Run("request id", func(t *testing.T) {
		kit, _ := SuiteKit(t, computemw.Config{})
		base := h.Start(t, kit)
		r := Do(t, context.Background(), http.MethodPost, base+Prefix+"/execute", `{}`,
			map[string]string{computemw.RequestIDHeader: "client-id-42"})
		if r.Header.Get(computemw.RequestIDHeader) != "client-id-42" || r.Body["requestId"] != "client-id-42" {
			t.Errorf("client request id not honoured: %v %s", r.Header, r.Raw)
		}
		r = Do(t, context.Background(), http.MethodGet, base+SandboxPath, "",
			map[string]string{computemw.RequestIDHeader: "mw-id-7"})
		if r.Header.Get(computemw.RequestIDHeader) != "mw-id-7" || r.Body["requestId"] != "mw-id-7" {
			t.Errorf("middleware request id: %v %s", r.Header, r.Raw)
		}
	})

	t.Run("files", func(t *testing.T) {
		kit, _ := SuiteKit(t, computemw.Config{})
		base := h.Start(t, kit)
		r := post(t, base+Prefix+"/files", `{"action":"write","path":"a.txt","content":"hi"}`)
		if r.Status != 200 || r.Body["success"] != true {
			t.Fatalf("write: %d %s", r.Status, r.Raw)
		}
		// Stateless: each request has a fresh sandbox, so the file is gone.
		r = post(t, base+Prefix+"/files", `{"action":"read","path":"a.txt"}`)
		expectError(t, r, 404, computemw.CodeNotFound)
		r = post(t, base+Prefix+"/files", `{"action":"list","path":"."}`)
		if files, ok := r.Body["files"].([]any); r.Status != 200 || !ok || len(files) != 0 {
			t.Fatalf("list: %d %s", r.Status, r.Raw)
		}
	})

	t.Run("health", func(t *testing.T) {
		kit, _ := SuiteKit(t, computemw.Config{})
		base := h.Start(t, kit)
		r := Do(t, context.Background(), http.MethodGet, base+Prefix+"/health", "", nil)
		if r.Status != 200 || r.Body["status"] != "healthy" {
			t.Fatalf("health: %d %s", r.Status, r.Raw)
		}
		if svc, _ := r.Body["services"].(map[string]any); svc["fake"] != "healthy" {
			t.Errorf("services: %s", r.Raw)
		}
		if _, ok := r.Body["timestamp"].(string); !ok {
			t.Errorf("timestamp: %s", r.Raw)
		}
	})

	t.Run("middleware lifecycle", func(t *testing.T) {
		kit, fake := SuiteKit(t, computemw.Config{})
		base := h.Start(t, kit)
		r := Do(t, context.Background(), http.MethodGet, base+SandboxPath, "", nil)
		if r.Status != 200 || r.Body["provider"] != "fake" || r.Body["sandboxId"] == "" {
			t.Fatalf("sandbox route: %d %s", r.Status, r.Raw)
		}
		if !fake.WaitLive(0, 5*time.Second) {
			t.Fatalf("middleware sandbox not destroyed after the response")
		}

		r = Do(t, context.Background(), http.MethodGet, base+ErrorPath, "", nil)
		expectError(t, r, 429, computemw.CodeRateLimited)
		if r.Header.Get("Retry-After") != "3" {
			t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
		}
		if !fake.WaitLive(0, 5*time.Second) {
			t.Fatalf("sandbox not destroyed after a handler error")
		}

		// A fresh connection, so the transport cannot retry the request.
		once := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		req, _ := http.NewRequest(http.MethodGet, base+PanicPath, nil)
		if resp, err := once.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode < 500 {
				t.Errorf("panic answered %d", resp.StatusCode)
			}
		}
		if !fake.WaitLive(0, 5*time.Second) {
			t.Fatalf("sandbox not destroyed after a panic")
		}
		if r := post(t, base+Prefix+"/exec", `{"command":"echo alive"}`); r.Status != 200 {
			t.Fatalf("server after panic: %d %s", r.Status, r.Raw)
		}
		if n := fake.Created(); n != 4 {
			t.Errorf("created %d sandboxes, want 4", n)
		}
	})

	t.Run("middleware create failure", func(t *testing.T) {
		kit, fake := SuiteKit(t, computemw.Config{})
		fake.CreateErr = &computemw.Error{Code: computemw.CodeUnavailable, Message: "provider down"}
		base := h.Start(t, kit)
		r := Do(t, context.Background(), http.MethodGet, base+SandboxPath, "", nil)
		expectError(t, r, 503, computemw.CodeUnavailable)
	})

	t.Run("hosts and origins", func(t *testing.T) {
		kit, fake := SuiteKit(t, computemw.Config{AllowedHosts: []string{"127.0.0.1"}, AllowedOrigins: []string{"http://app.test"}})
		base := h.Start(t, kit)
		exec := func(host string) int {
			req, _ := http.NewRequest(http.MethodPost, base+Prefix+"/exec", strings.NewReader(`{"command":"echo x"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Host = host
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if s := exec(strings.TrimPrefix(base, "http://")); s != 200 {
			t.Errorf("a served host: %d", s)
		}
		if s := exec("rebound.example" + base[strings.LastIndex(base, ":"):]); s != 403 {
			t.Errorf("a DNS-rebound host: %d, want 403", s)
		}
		dial := func(origin string) int {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+Prefix+"/ws",
				&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {origin}}})
			if err != nil {
				if resp == nil {
					t.Fatalf("dial: %v", err)
				}
				return resp.StatusCode
			}
			c.Close(websocket.StatusNormalClosure, "")
			return 101
		}
		if s := dial("http://app.test"); s != 101 {
			t.Errorf("an allowed origin: %d", s)
		}
		if s := dial("http://evil.example"); s != 403 {
			t.Errorf("another origin: %d, want 403", s)
		}
		if fake.Created() != 1 {
			t.Errorf("created %d sandboxes, want 1", fake.Created())
		}
	})

	t.Run("cross-origin front end", func(t *testing.T) {
		preflight := func(base, origin string) *http.Response {
			req, _ := http.NewRequest(http.MethodOptions, base+Prefix+"/execute", nil)
			req.Header.Set("Origin", origin)
			req.Header.Set("Access-Control-Request-Method", "POST")
			req.Header.Set("Access-Control-Request-Headers", "content-type")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp
		}
		// By default no origin is allowed.
		kit, fake := SuiteKit(t, computemw.Config{})
		if r := preflight(h.Start(t, kit), "http://app.test"); r.StatusCode != 403 || r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("default preflight: %d %v", r.StatusCode, r.Header)
		}
		kit, fake = SuiteKit(t, computemw.Config{AllowedOrigins: []string{"http://app.test"}})
		base := h.Start(t, kit)
		r := preflight(base, "http://app.test")
		if r.StatusCode != 204 || r.Header.Get("Access-Control-Allow-Origin") != "http://app.test" ||
			!strings.Contains(r.Header.Get("Access-Control-Allow-Methods"), "POST") ||
			!strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "Content-Type") {
			t.Errorf("allowed preflight: %d %v", r.StatusCode, r.Header)
		}
		if r := preflight(base, "http://evil.example"); r.StatusCode != 403 || r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("another origin's preflight: %d %v", r.StatusCode, r.Header)
		}
		got := Do(t, context.Background(), http.MethodPost, base+Prefix+"/execute", `{"language":"python","code":"echo 4"}`,
			map[string]string{"Origin": "http://app.test"})
		if got.Status != 200 || got.Header.Get("Access-Control-Allow-Origin") != "http://app.test" ||
			!strings.Contains(got.Header.Get("Access-Control-Expose-Headers"), "X-Request-ID") {
			t.Errorf("allowed request: %d %v", got.Status, got.Header)
		}
		if fake.Created() != 1 {
			t.Errorf("preflights created sandboxes: %d created", fake.Created())
		}
	})

	t.Run("unknown path", func(t *testing.T) {
		kit, fake := SuiteKit(t, computemw.Config{})
		base := h.Start(t, kit)
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
			r := Do(t, context.Background(), m, base+Prefix+"/no/such/route", "", nil)
			expectError(t, r, 404, computemw.CodeNotFound)
		}
		if fake.Created() != 0 {
			t.Errorf("unknown paths created %d sandboxes", fake.Created())
		}
	})

	t.Run("compressed body bomb", func(t *testing.T) {
		// 64 MiB of JSON whitespace in a ~64 KiB gzip body: the kit must
		// refuse it without inflating it, on every framework.
		kit, fake := SuiteKit(t, computemw.Config{})
		base := h.Start(t, kit)
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write([]byte(`{"command":"echo x"`))
		zw.Write(bytes.Repeat([]byte{' '}, 64<<20))
		zw.Write([]byte(`}`))
		zw.Close()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		r := Do(t, context.Background(), http.MethodPost, base+Prefix+"/exec", buf.String(),
			map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"})
		runtime.ReadMemStats(&after)
		if r.Status != 415 {
			t.Errorf("gzip bomb: %d %s, want 415", r.Status, r.Raw)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
			t.Errorf("the server allocated %d MiB for a %d KiB compressed body", alloc>>20, buf.Len()>>10)
		}
		if fake.Created() != 0 {
			t.Errorf("a refused body created %d sandboxes", fake.Created())
		}
	})

	t.Run("client disconnect", func(t *testing.T) {
		logs := &recordingHandler{}
		kit, fake := SuiteKit(t, computemw.Config{Logger: slog.New(logs)})
		base := h.Start(t, kit)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+Prefix+"/execute",
				strings.NewReader(`{"language":"bash","code":"sleep","timeout":1500}`))
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
		select {
		case <-fake.Started():
		case <-time.After(10 * time.Second):
			t.Fatal("execution never started")
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("client error %v", err)
		}
		// Frameworks that cancel on disconnect destroy at once; the others
		// when the execution's timeout stops it. Never later.
		if !fake.WaitLive(0, 10*time.Second) {
			t.Fatalf("sandbox not destroyed after the client went away")
		}
		// A client that leaves is not a server error: the execution's log
		// line (written before its sandbox goes) is at Info, and nothing
		// so far at Error.
		for _, r := range logs.records() {
			if r.Level >= slog.LevelError || (r.Message == "computemw: execution" && r.Level != slog.LevelInfo) {
				t.Errorf("logged at %v: %s", r.Level, r.Message)
			}
		}
	})

	t.Run("capacity", func(t *testing.T) {
		// At capacity a request waits in the queue; when its wait ends
		// before a slot frees, it is a 503 with Retry-After.
		kit, fake := SuiteKit(t, computemw.Config{MaxSandboxes: 1, QueueTimeout: 100 * time.Millisecond})
		base := h.Start(t, kit)
		// The first request holds the only slot until its time limit.
		// The second must be answered while it does: when a loaded
		// machine let the hold end first, the try says nothing, and the
		// next holds the slot twice as long.
		for hold := time.Second; ; hold *= 2 {
			done := make(chan *Reply, 1)
			go func() {
				done <- post(t, base+Prefix+"/execute", fmt.Sprintf(`{"language":"bash","code":"sleep","timeout":%d}`, hold.Milliseconds()))
			}()
			select {
			case <-fake.Started():
			case <-time.After(time.Minute):
				t.Fatal("execution never started")
			}
			r := post(t, base+Prefix+"/exec", `{"command":"echo x"}`)
			var first *Reply
			select {
			case first = <-done:
			default:
			}
			if r.Status != 503 && first != nil && hold < 32*time.Second {
				continue // the slot was free again: try with a longer hold
			}
			expectError(t, r, 503, computemw.CodeUnavailable)
			if r.Header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			if first == nil {
				first = <-done
			}
			if first.Status != 408 {
				t.Errorf("first request: %d %s", first.Status, first.Raw)
			}
			break
		}
		if r := post(t, base+Prefix+"/exec", `{"command":"echo x"}`); r.Status != 200 {
			t.Errorf("slot not freed: %d %s", r.Status, r.Raw)
		}
	})

	t.Run("concurrent", func(t *testing.T) {
		kit, fake := SuiteKit(t, computemw.Config{})
		base := h.Start(t, kit)
		var wg sync.WaitGroup
		errs := make(chan string, 32)
		for i := range 32 {
			wg.Go(func() {
				want := strings.Repeat("z", i+1)
				r := post(t, base+Prefix+"/exec", `{"command":"echo `+want+`"}`)
				if r.Status != 200 || r.Body["output"] != want+"\n" {
					errs <- string(r.Raw)
				}
			})
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Errorf("concurrent request: %s", e)
		}
		if !fake.WaitLive(0, 5*time.Second) || fake.Created() != 32 {
			t.Errorf("created %d, live %d", fake.Created(), fake.Live())
		}
	})

	t.Run("close", func(t *testing.T) {
		kit, _ := SuiteKit(t, computemw.Config{})
		base := h.Start(t, kit)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := kit.Close(ctx); err != nil {
			t.Fatal(err)
		}
		r := post(t, base+Prefix+"/exec", `{"command":"echo x"}`)
		expectError(t, r, 503, computemw.CodeUnavailable)
	})
}

// Exchange is the framework-independent outcome of one contract request:
// what any two adapters must agree on.
type Exchange struct {
	Name        string
	Status      int
	ContentType string
	Code        string
	Headers     map[string]string // Retry-After, Allow; X-Request-ID reduced to "set"
	Body        map[string]any    // volatile fields (IDs, times, sizes) removed
}

// ContractCase is one request of the cross-framework comparison.
type ContractCase struct {
	Name, Method, Path, Body string
	Header                   map[string]string
}

// ContractCases is the request set that every adapter must answer alike.
func ContractCases() []ContractCase {
	return []ContractCase{
		{Name: "execute ok", Method: "POST", Path: Prefix + "/execute", Body: `{"language":"python","code":"echo 4"}`},
		{Name: "exec exit", Method: "POST", Path: Prefix + "/exec", Body: `{"command":"exit 3"}`},
		{Name: "timeout", Method: "POST", Path: Prefix + "/execute", Body: `{"language":"bash","code":"sleep","timeout":20}`},
		{Name: "resource", Method: "POST", Path: Prefix + "/exec", Body: `{"command":"oom"}`},
		{Name: "internal", Method: "POST", Path: Prefix + "/exec", Body: `{"command":"fail"}`},
		{Name: "malformed", Method: "POST", Path: Prefix + "/execute", Body: `{"code":`},
		{Name: "missing field", Method: "POST", Path: Prefix + "/execute", Body: `{"code":"x"}`},
		{Name: "unknown language", Method: "POST", Path: Prefix + "/execute", Body: `{"code":"x","language":"cobol"}`},
		{Name: "too large", Method: "POST", Path: Prefix + "/exec", Body: `{"command":"` + strings.Repeat("y", 5000) + `"}`},
		{Name: "invalid action", Method: "POST", Path: Prefix + "/files", Body: `{"action":"nope","path":"a"}`},
		{Name: "escape", Method: "POST", Path: Prefix + "/files", Body: `{"action":"read","path":"../x"}`},
		{Name: "missing file", Method: "POST", Path: Prefix + "/files", Body: `{"action":"read","path":"x"}`},
		{Name: "list", Method: "POST", Path: Prefix + "/files", Body: `{"action":"list","path":"."}`},
		{Name: "wrong method", Method: "GET", Path: Prefix + "/exec"},
		{Name: "problem", Method: "POST", Path: Prefix + "/exec", Body: `{}`, Header: map[string]string{"Accept": "application/problem+json"}},
		{Name: "health", Method: "GET", Path: Prefix + "/health"},
		{Name: "unknown path", Method: "GET", Path: Prefix + "/no/such/route"},
		{Name: "unknown path, POST", Method: "POST", Path: Prefix + "/nope", Body: `{}`},
		{Name: "middleware", Method: "GET", Path: SandboxPath},
		{Name: "handler error", Method: "GET", Path: ErrorPath},
	}
}

var volatile = []string{"requestId", "sandboxId", "executionTime", "cpuTime", "peakMemory", "timestamp"}

// Capture sends ContractCases to a server started by a harness with a
// [SuiteKit] configured with MaxBodyBytes 4096, and returns the outcomes.
func Capture(t testing.TB, base string) []Exchange {
	t.Helper()
	var out []Exchange
	for _, c := range ContractCases() {
		r := Do(t, context.Background(), c.Method, base+c.Path, c.Body, c.Header)
		body := maps.Clone(r.Body)
		for _, k := range volatile {
			delete(body, k)
		}
		hdr := map[string]string{}
		for _, k := range []string{"Retry-After", "Allow"} {
			if v := r.Header.Get(k); v != "" {
				hdr[k] = v
			}
		}
		if r.Header.Get(computemw.RequestIDHeader) != "" {
			hdr[computemw.RequestIDHeader] = "set"
		}
		ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
		out = append(out, Exchange{Name: c.Name, Status: r.Status, ContentType: ct, Code: r.Code(), Headers: hdr, Body: body})
	}
	return out
}

// DiffExchanges describes the differences between two captures, or "".
func DiffExchanges(a, b []Exchange) string {
	var diffs []string
	for i := range min(len(a), len(b)) {
		ja, _ := json.Marshal(a[i])
		jb, _ := json.Marshal(b[i])
		if !bytes.Equal(ja, jb) {
			diffs = append(diffs, string(ja)+"\n  vs "+string(jb))
		}
	}
	if len(a) != len(b) {
		diffs = append(diffs, "different number of exchanges")
	}
	slices.Sort(diffs)
	return strings.Join(diffs, "\n")
}

// recordingHandler is a slog.Handler that keeps every record.
type recordingHandler struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}

func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }

func (h *recordingHandler) records() []slog.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]slog.Record(nil), h.recs...)
}

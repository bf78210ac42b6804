package adapters_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/computemw/kit/adapters/internal/harness"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/auth"
	"github.com/computemw/kit/computemw/computemwtest"
)

// logRecords keeps the records of a logger, for tests of what is logged.
type logRecords struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r.Clone())
	return nil
}
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecords) WithGroup(string) slog.Handler      { return l }

// find returns the records whose message contains msg, as level and
// "key=value" attributes.
func (l *logRecords) find(msg string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.recs {
		if !strings.Contains(r.Message, msg) {
			continue
		}
		s := r.Level.String() + " " + r.Message
		r.Attrs(func(a slog.Attr) bool { s += " " + a.String(); return true })
		out = append(out, s)
	}
	return out
}

// request sends a request to the route group and decodes the JSON answer.
func request(t *testing.T, method, url string, h http.Header, body string) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s %s: %s: %v", method, url, b, err)
		}
	}
	return resp.StatusCode, m
}

// Without authentication configured, GET /usage is a 404 that says why,
// not a 401 counted as a refusal; POST /sandboxes with no body and no
// Content-Type makes a session with the defaults; a provider that is not
// configured is refused with the list of those that are.
func TestErrorsSayWhich(t *testing.T) {
	var rejected atomic.Int32
	kit := localKit(t, computemw.Config{Hooks: []*computemw.Hooks{{
		RequestRejected: func(context.Context, computemw.Op, *computemw.Action, error) { rejected.Add(1) },
	}}})
	base := harness.NetHTTP(t, kit) + computemwtest.Prefix

	status, body := request(t, http.MethodGet, base+"/usage", nil, "")
	if status != http.StatusNotFound || body["code"] != "NOT_FOUND" || !strings.Contains(body["error"].(string), "no authentication is configured") {
		t.Errorf("GET /usage without auth: %d %v", status, body)
	}
	if n := rejected.Load(); n != 0 {
		t.Errorf("GET /usage without auth counted %d refusals", n)
	}

	status, body = request(t, http.MethodPost, base+"/sandboxes", nil, "")
	if status != http.StatusCreated || body["sandboxId"] == nil {
		t.Fatalf("POST /sandboxes, empty body, no Content-Type: %d %v", status, body)
	}
	if s, _ := request(t, http.MethodDelete, base+"/sandboxes/"+body["sandboxId"].(string), nil, ""); s != http.StatusNoContent {
		t.Errorf("DELETE: %d", s)
	}
	status, body = request(t, http.MethodPost, base+"/sandboxes", nil, `{"language":"python"}`)
	if status != http.StatusUnsupportedMediaType {
		t.Errorf("POST /sandboxes with a body and no Content-Type: %d %v, want 415", status, body)
	}

	status, body = request(t, http.MethodPost, base+"/execute", http.Header{"Content-Type": {"application/json"}},
		`{"language":"python","code":"print(1)","provider":"e2b"}`)
	details, _ := body["details"].(map[string]any)
	if status != http.StatusBadRequest || !strings.Contains(body["error"].(string), `"e2b"`) ||
		!strings.Contains(body["error"].(string), "local") || len(details["providers"].([]any)) != 1 {
		t.Errorf("unknown provider: %d %v, want 400 listing the configured providers", status, body)
	}
}

// A refused credential is logged at Info with its reason, and its body
// says which check failed: an expired token, a key the server does not
// take. An API key sent to a server without API keys is an invalid key.
func TestRefusalsAreLoggedWithTheirReason(t *testing.T) {
	secret := []byte("adapters-test-secret-of-32-bytes!!")
	authn, err := auth.New(auth.Config{JWT: &auth.JWTConfig{Algorithms: []string{"HS256"}, Keys: []auth.JWTKey{{Algorithm: "HS256", Key: secret}}}})
	if err != nil {
		t.Fatal(err)
	}
	logs := &logRecords{}
	kit := localKit(t, computemw.Config{Policies: []computemw.Policy{authn}, Logger: slog.New(logs)})
	base := harness.NetHTTP(t, kit) + computemwtest.Prefix
	expired, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(-time.Hour).Unix()}).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		h      http.Header
		msg    string
		reason string
	}{
		{"expired token", http.Header{"Authorization": {"Bearer " + expired}}, "invalid token", "expired"},
		{"X-API-Key: wrong", http.Header{"X-Api-Key": {"wrong"}}, "invalid API key", "api_keys_not_configured"},
	} {
		status, body := request(t, http.MethodGet, base+"/sandboxes", c.h, "")
		details, _ := body["details"].(map[string]any)
		if status != http.StatusUnauthorized || body["error"] != c.msg || details["reason"] != c.reason {
			t.Errorf("%s: %d %v, want 401 %q with reason %q", c.name, status, body, c.msg, c.reason)
		}
		if strings.Contains(body["error"].(string)+body["code"].(string), "wrong") {
			t.Errorf("%s: the body quotes the credential: %v", c.name, body)
		}
	}
	recs := logs.find("refused")
	if len(recs) != 2 {
		t.Fatalf("refusals logged: %q, want 2", recs)
	}
	for i, reason := range []string{"expired", "api_keys_not_configured"} {
		if !strings.HasPrefix(recs[i], "INFO ") || !strings.Contains(recs[i], "status=401") || !strings.Contains(recs[i], reason) {
			t.Errorf("log record %q, want Info with status 401 and reason %q", recs[i], reason)
		}
		if strings.Contains(recs[i], expired) {
			t.Errorf("the log holds the token: %q", recs[i])
		}
	}
}

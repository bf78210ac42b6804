package daytonafake

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// recorder is a testing.TB that keeps what the fake reports as errors
// instead of failing the test, so that the fake's strictness is tested.
type recorder struct {
	*testing.T
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.errs
	r.errs = nil
	return e
}

func TestFakeRefusesWhatTheSpecDoesNot(t *testing.T) {
	rec := &recorder{T: t}
	s := New(rec, Options{})
	call := func(method, path, auth, body string) int {
		req, _ := http.NewRequest(method, s.srv.URL+path, strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	good := "Bearer " + s.APIKey
	if code := call("POST", "/api/sandbox", good, `{"name":"ok","cpu":1,"memory":1}`); code != 200 {
		t.Fatalf("a valid create: %d %v", code, rec.take())
	}
	if e := rec.take(); len(e) != 0 {
		t.Fatalf("a valid create reported %v", e)
	}
	for _, tc := range []struct {
		name, method, path, auth, body, want string
	}{
		{"no credentials", "GET", "/api/sandbox/ok", "", "", "Authorization"},
		{"wrong scheme", "GET", "/api/sandbox/ok", "Token " + s.APIKey, "", "Authorization"},
		{"unknown field", "POST", "/api/sandbox", good, `{"name":"x","memoryMB":1024}`, "memoryMB"},
		{"wrong type", "POST", "/api/sandbox", good, `{"cpu":"two"}`, "cpu"},
		{"memory in MB", "POST", "/api/sandbox", good, `{"memory":2048}`, "wrong unit"},
		{"unknown path", "GET", "/api/sandboxes", good, "", "not in the spec"},
		{"unknown query parameter", "GET", "/api/sandbox?page=2", good, "", "page"},
		{"no toolbox endpoint", "GET", "/toolbox/ok", good, "", "toolbox endpoint"},
		{"unknown toolbox field", "POST", "/toolbox/sbx-0001/process/session", good, `{"sessionId":"a","shell":"bash"}`, "shell"},
		{"missing required field", "POST", "/toolbox/sbx-0001/process/session", good, `{}`, "sessionId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code := call(tc.method, tc.path, tc.auth, tc.body)
			errs := rec.take()
			if code < 400 {
				t.Errorf("answered %d", code)
			}
			if len(errs) == 0 || !strings.Contains(strings.Join(errs, "\n"), tc.want) {
				t.Errorf("reported %q, want a test error mentioning %q", errs, tc.want)
			}
		})
	}
}

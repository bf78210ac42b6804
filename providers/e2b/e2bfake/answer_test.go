package e2bfake

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The fake's answers are checked against what each operation declares:
// an undeclared status, a body that is not the operation's schema and an
// error body that is not the description's Error are all refused, where
// the right answers pass.
func TestCheckAnswer(t *testing.T) {
	api, _, err := validators()
	if err != nil {
		t.Fatal(err)
	}
	match := func(method, path string) *matched {
		t.Helper()
		r := httptest.NewRequest(method, "https://api.e2b.test"+path, nil)
		r.Header.Set("X-API-Key", "k")
		_, m, err := api.check(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	jsonHeader := http.Header{"Content-Type": {"application/json"}}
	get := match(http.MethodGet, "/sandboxes/s1")
	detail := `{"templateID":"base","sandboxID":"s1","clientID":"c","startedAt":"2026-01-01T00:00:00Z",` +
		`"endAt":"2026-01-01T00:01:00Z","envdVersion":"0.2.0","cpuCount":2,"memoryMB":512,"diskSizeMB":1024,"state":"running"}`
	for _, c := range []struct {
		name     string
		m        *matched
		status   int
		body     string
		injected bool
		want     string // "" when the answer must pass
	}{
		{"the right detail", get, 200, detail, false, ""},
		{"a detail without its state", get, 200, strings.Replace(detail, `,"state":"running"`, "", 1), false, "state"},
		{"a declared 404", get, 404, `{"code":404,"message":"sandbox not found"}`, false, ""},
		{"an undeclared 409", get, 409, `{"code":409,"message":"conflict"}`, false, "does not declare"},
		{"an error without its code", get, 404, `{"message":"sandbox not found"}`, false, "code"},
		{"an injected 503", get, 503, `{"code":503,"message":"injected fault"}`, true, ""},
		{"an injected 503 of another shape", get, 503, `{"error":"unavailable"}`, true, "Error"},
		{"an injected 503 whose code is not its status", get, 503, `{"code":500,"message":"x"}`, true, "code"},
		{"a kill's 204", match(http.MethodDelete, "/sandboxes/s1"), 204, "", false, ""},
		{"a kill's undeclared 200", match(http.MethodDelete, "/sandboxes/s1"), 200, "", false, "does not declare"},
	} {
		err := c.m.checkAnswer(c.status, jsonHeader, []byte(c.body), true, c.injected)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && err == nil:
			t.Errorf("%s passed", c.name)
		case c.want != "" && !strings.Contains(err.Error(), c.want):
			t.Errorf("%s: %v, want an error naming %q", c.name, err, c.want)
		}
	}
}

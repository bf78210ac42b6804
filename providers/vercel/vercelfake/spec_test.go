package vercelfake

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/computemw/kit/providers/internal/openapicheck"
)

// The answers are checked too: an ndjson stream with a line the SDK's
// validators refuse, a command without its exit code, an unknown field or
// an error in another shape fails; the vendor's shapes pass.
func TestAnswerCheck(t *testing.T) {
	s, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	route := func(method, p, body string) *openapicheck.Match {
		req := httptest.NewRequest(method, p+"?teamId=t", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		m, err := s.CheckRequest(req, p, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	ndjson := http.Header{"Content-Type": {"application/x-ndjson"}}
	jsonH := http.Header{"Content-Type": {"application/json"}}
	m := route("POST", "/v2/sandboxes/sessions/s/cmd", `{"command":"sh","args":[],"env":{},"sudo":false,"wait":true,"logs":true}`)
	cmd := `{"command":{"id":"c","name":"sh","args":[],"cwd":"/","sessionId":"s","exitCode":%s,"startedAt":1}}`
	good := strings.Join([]string{
		strings.Replace(cmd, "%s", "null", 1),
		`{"stream":"stdout","data":"hi\n"}`,
		`{"stream":"error","data":{"code":"x","message":"y"}}`,
		strings.Replace(cmd, "%s", "0", 1),
	}, "\n") + "\n"
	if err := m.CheckAnswer(200, ndjson, []byte(good), true); err != nil {
		t.Errorf("a valid stream: %v", err)
	}
	for name, body := range map[string]string{
		"unknown stream":   `{"stream":"stdin","data":"x"}`,
		"data not a text":  `{"stream":"stdout","data":1}`,
		"no exit code":     strings.Replace(strings.Replace(cmd, "%s", "0", 1), `"exitCode":0,`, ``, 1),
		"unknown field":    `{"stream":"stdout","data":"x","fd":1}`,
		"not a JSON value": `hello`,
	} {
		if err := m.CheckAnswer(200, ndjson, []byte(good+body+"\n"), true); err == nil {
			t.Errorf("%s: passed", name)
		}
	}
	if err := m.CheckAnswer(404, jsonH, []byte(`{"error":{"code":"not_found","message":"m"}}`), true); err != nil {
		t.Errorf("the vendor's error shape: %v", err)
	}
	if err := m.CheckAnswer(404, jsonH, []byte(`{"message":"not found"}`), true); err == nil {
		t.Error("an error in another shape passed")
	}
}

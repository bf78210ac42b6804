package adapters_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/computemw/kit/adapters/internal/harness"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
)

// postJSON posts body to the route group's path and decodes the answer.
func postJSON(t *testing.T, base, path, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(base+computemwtest.Prefix+path, "application/json", bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return resp.StatusCode, m
}

// An unknown field, such as a typo of stdin, is refused with 400
// BAD_REQUEST naming it, over HTTP and WebSocket; Config.AllowUnknownFields
// keeps the lenient mode, where the field is ignored.
func TestUnknownFieldsAreRefused(t *testing.T) {
	kit := localKit(t, computemw.Config{})
	base := harness.NetHTTP(t, kit)
	typo := `{"language":"python","code":"import sys\nprint(repr(sys.stdin.read()))","stdn":"hello"}`
	for _, c := range []struct{ path, body, field string }{
		{"/execute", typo, "stdn"},
		{"/exec", `{"command":"true","cmd":"x"}`, "cmd"},
		{"/execute", `{"language":"python","code":"print(1)","files":[{"path":"a","contnt":"x"}]}`, "contnt"},
		{"/files", `{"action":"list","path":".","recursive":true}`, "recursive"},
		{"/sandboxes", `{"languge":"python"}`, "languge"},
	} {
		status, body := postJSON(t, base, c.path, c.body)
		details, _ := body["details"].(map[string]any)
		if status != http.StatusBadRequest || body["code"] != "BAD_REQUEST" || body["error"] != `unknown field "`+c.field+`"` || details["field"] != c.field {
			t.Errorf("%s %s: %d %v, want 400 BAD_REQUEST naming %q", c.path, c.body, status, body, c.field)
		}
	}
	if kit.Stats().Live != 0 {
		t.Errorf("a refused request left %d sandboxes", kit.Stats().Live)
	}

	ws := dialWS(t, base)
	ws.c.Write(ws.ctx, 1, []byte(`{"type":"create-sandbox","tempalte":"python"}`))
	if m := ws.nextAny(); m.Type != "error" || m.Code != "BAD_REQUEST" || m.Message != `unknown field "tempalte"` {
		t.Errorf("WebSocket message with an unknown field: %+v", m)
	}

	lenient := localKit(t, computemw.Config{AllowUnknownFields: true})
	lbase := harness.NetHTTP(t, lenient)
	if status, body := postJSON(t, lbase, "/execute", typo); status != http.StatusOK || body["output"] != "''\n" {
		t.Errorf("lenient mode: %d %v, want 200 with the field ignored", status, body)
	}
	lws := dialWS(t, lbase)
	lws.c.Write(lws.ctx, 1, []byte(`{"type":"create-sandbox","tempalte":"python"}`))
	if m := lws.nextAny(); m.Type != "sandbox-ready" {
		t.Errorf("lenient WebSocket: %+v", m)
	}
}

package computemw_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/httpapi"
)

// The process routes answer bad input with a clear 4xx, and a provider
// without background processes with a clear error, never an empty list.
func TestProcessRoutesRefuse(t *testing.T) {
	kit, fake := newKit(t, computemw.Config{})
	ctx := context.Background()
	created := post(ctx, kit, "/sandboxes", `{}`)
	var info struct {
		SandboxID string `json:"sandboxId"`
	}
	if err := json.Unmarshal(created.Body, &info); err != nil || info.SandboxID == "" {
		t.Fatalf("session: %d %s", created.Status, created.Body)
	}
	call := func(method, path, id, pid, body string) *httpapi.Response {
		h := http.Header{}
		if body != "" {
			h.Set("Content-Type", "application/json")
		}
		return httpapi.New(kit).ServeRoute(ctx, computemwtest.RouteOf(kit, path), &computemw.Request{
			Method: method, Params: map[string]string{"id": id, "pid": pid}, Header: h,
			Body: strings.NewReader(body), RemoteAddr: "127.0.0.1:40000",
		})
	}
	cases := []struct {
		name, method, path, id, pid, body string
		status                            int
		code                              computemw.Code
	}{
		{"not supported", "POST", "/sandboxes/{id}/processes", info.SandboxID, "", `{"command":"sleep 1"}`, 400, computemw.CodeExecution},
		{"list not supported", "GET", "/sandboxes/{id}/processes", info.SandboxID, "", "", 400, computemw.CodeExecution},
		{"no command", "POST", "/sandboxes/{id}/processes", info.SandboxID, "", `{}`, 400, computemw.CodeExecution},
		{"malformed body", "POST", "/sandboxes/{id}/processes", info.SandboxID, "", `{"command":`, 400, computemw.CodeBadRequest},
		{"unknown session", "POST", "/sandboxes/{id}/processes", "nope", "", `{"command":"true"}`, 404, computemw.CodeNotFound},
		{"bad pid", "DELETE", "/sandboxes/{id}/processes/{pid}", info.SandboxID, "x1", "", 400, computemw.CodeBadRequest},
		{"negative pid", "DELETE", "/sandboxes/{id}/processes/{pid}", info.SandboxID, "-4", "", 400, computemw.CodeBadRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := fake.Created()
			r := call(c.method, c.path, c.id, c.pid, c.body)
			var e struct {
				Code string `json:"code"`
			}
			_ = json.Unmarshal(r.Body, &e)
			if r.Status != c.status || e.Code != string(c.code) {
				t.Errorf("%d %s, want %d %s", r.Status, r.Body, c.status, c.code)
			}
			if fake.Created() != before {
				t.Error("a refused request created a sandbox")
			}
		})
	}
}

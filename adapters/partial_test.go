package adapters_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/adapters/internal/harness"
	"github.com/computemw/kit/computemw"
)

// In an application's own handler, the middleware's sandbox returns a
// timeout whose error carries the partial Result, and the error rendered
// for the client has the partial output in details, as the routes'.
func TestMiddlewareTimeoutKeepsPartialOutput(t *testing.T) {
	kit := localKit(t, computemw.Config{})
	var (
		res  *computemw.Result
		rerr error
	)
	mux := http.NewServeMux()
	mux.Handle("GET /run", computehttp.Middleware(kit)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, rerr = computehttp.Sandbox(r).RunCode(r.Context(), "python", "print('partial', flush=True)\nwhile True: pass",
			computemw.ExecOptions{Timeout: 500 * time.Millisecond})
		computehttp.Error(w, r, kit, rerr)
	})))
	base := harness.ServeHTTP(t, mux)
	status, body := request(t, http.MethodGet, base+"/run", nil, "")

	var e *computemw.Error
	if !errors.As(rerr, &e) || e.Code != computemw.CodeTimeout {
		t.Fatalf("RunCode: %v, want a TIMEOUT", rerr)
	}
	partial, ok := e.Details.(*computemw.Result)
	if !ok || partial.Stdout != "partial\n" || res == nil || res.Stdout != "partial\n" {
		t.Errorf("the error's details %#v (result %+v), want the partial Result", e.Details, res)
	}
	details, _ := body["details"].(map[string]any)
	if status != http.StatusRequestTimeout || details["output"] != "partial\n" {
		t.Errorf("rendered: %d %v, want 408 with the partial output in details", status, body)
	}
}

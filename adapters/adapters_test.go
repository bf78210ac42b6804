// Package adapters_test checks that the framework adapters answer the
// HTTP contract identically, and measures the core's share of their cost.
package adapters_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/computemw/kit/adapters/internal/harness"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/httpapi"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, harness.LeakOptions()...) }

var adapters = []computemwtest.Harness{
	{Name: "net/http", Start: harness.NetHTTP},
	{Name: "gin", Start: harness.Gin},
	{Name: "echo", Start: harness.Echo},
	{Name: "fiber", Start: harness.Fiber},
	{Name: "echov5", Start: harness.EchoV5},
	{Name: "fiberv3", Start: harness.FiberV3},
}

// TestAdaptersAgree sends the contract's requests to every adapter's real
// server and fails on any difference from net/http's answers.
func TestAdaptersAgree(t *testing.T) {
	captures := make([][]computemwtest.Exchange, len(adapters))
	for i, a := range adapters {
		kit, _ := computemwtest.SuiteKit(t, computemw.Config{MaxBodyBytes: 4096})
		captures[i] = computemwtest.Capture(t, a.Start(t, kit))
		if len(captures[i]) != len(computemwtest.ContractCases()) {
			t.Fatalf("%s: %d exchanges captured", a.Name, len(captures[i]))
		}
	}
	for i := 1; i < len(adapters); i++ {
		if d := computemwtest.DiffExchanges(captures[0], captures[i]); d != "" {
			t.Errorf("%s differs from %s:\n%s", adapters[i].Name, adapters[0].Name, d)
		}
	}
}

// TestPathParams drives the session routes, whose {id} each adapter
// translates into its router's syntax and back, on every adapter.
func TestPathParams(t *testing.T) {
	for _, a := range adapters {
		t.Run(a.Name, func(t *testing.T) {
			kit, fake := computemwtest.SuiteKit(t, computemw.Config{})
			base := a.Start(t, kit) + computemwtest.Prefix
			do := func(method, path, body string) *computemwtest.Reply {
				return computemwtest.Do(t, context.Background(), method, base+path, body, nil)
			}
			r := do(http.MethodPost, "/sandboxes", `{}`)
			id, _ := r.Body["sandboxId"].(string)
			if r.Status != http.StatusCreated || id == "" {
				t.Fatalf("create: %d %s", r.Status, r.Raw)
			}
			if r = do(http.MethodGet, "/sandboxes/"+id, ""); r.Status != http.StatusOK || r.Body["sandboxId"] != id {
				t.Errorf("get: %d %s", r.Status, r.Raw)
			}
			if r = do(http.MethodPost, "/sandboxes/"+id+"/exec", `{"command":"echo hi"}`); r.Status != http.StatusOK || r.Body["output"] != "hi\n" {
				t.Errorf("exec: %d %s", r.Status, r.Raw)
			}
			if r = do(http.MethodPut, "/sandboxes/"+id, ""); r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") == "" {
				t.Errorf("wrong method: %d %v %s", r.Status, r.Header, r.Raw)
			}
			if r = do(http.MethodDelete, "/sandboxes/"+id, ""); r.Status != http.StatusNoContent || len(r.Raw) != 0 {
				t.Errorf("delete: %d %q", r.Status, r.Raw)
			}
			if r = do(http.MethodGet, "/sandboxes/"+id, ""); r.Status != http.StatusNotFound {
				t.Errorf("get after delete: %d %s", r.Status, r.Raw)
			}
			if fake.Live() != 0 {
				t.Errorf("%d sandboxes left", fake.Live())
			}
		})
	}
}

// BenchmarkCore is the core's share of every adapter's middleware: create
// the request's sandbox on the fake provider, then release it.
func BenchmarkCore(b *testing.B) {
	kit, _ := computemwtest.SuiteKit(b, computemw.Config{})
	req := &computemw.Request{Method: http.MethodGet, Header: http.Header{}, RemoteAddr: "127.0.0.1:40000"}
	enter := func() {
		_, release, err := httpapi.New(kit).EnterRequest(context.Background(), req, httpapi.MiddlewareOptions{})
		if err != nil {
			b.Fatal(err)
		}
		release()
	}
	for range 200 {
		enter()
	}
	b.ReportAllocs()
	for b.Loop() {
		enter()
	}
}

// BenchmarkCoreExec is the core's share of every adapter's POST /exec.
func BenchmarkCoreExec(b *testing.B) {
	kit, _ := computemwtest.SuiteKit(b, computemw.Config{})
	exec := computemwtest.RouteOf(kit, "/exec")
	h := http.Header{"Content-Type": {"application/json"}}
	serve := func() {
		req := &computemw.Request{Method: http.MethodPost, Header: h, Body: strings.NewReader(harness.ExecBody)}
		if resp := httpapi.New(kit).ServeRoute(context.Background(), exec, req); resp.Status != http.StatusOK {
			b.Fatalf("%d %s", resp.Status, resp.Body)
		}
	}
	for range 200 {
		serve()
	}
	b.ReportAllocs()
	for b.Loop() {
		serve()
	}
}

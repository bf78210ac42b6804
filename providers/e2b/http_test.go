package e2b_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/providers/e2b/e2bfake"
)

// The vendor's failures reach an HTTP client of the kit with the kit's
// status, code and Retry-After; nothing is left on the vendor's books.
func TestErrorsThroughKit(t *testing.T) {
	p, f := newProvider(t, nil)
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{p}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kit.Close(context.Background()) })
	mux := http.NewServeMux()
	computehttp.Mount(mux, computemwtest.Prefix, kit)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	post := func(path, body string) (*http.Response, map[string]any) {
		t.Helper()
		resp, err := http.Post(srv.URL+computemwtest.Prefix+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return resp, m
	}

	resp, body := post("/exec", `{"command":"echo hi; echo err >&2"}`)
	if resp.StatusCode != 200 || body["output"] != "hi\n" || body["stderr"] != "err\n" || body["provider"] != "e2b" {
		t.Fatalf("exec: %d %v", resp.StatusCode, body)
	}

	for _, tc := range []struct {
		fault  e2bfake.Fault
		path   string
		body   string
		status int
		code   string
	}{
		{e2bfake.Fault{Op: e2bfake.OpCreate, Status: 429, RetryAfter: 9 * time.Second}, "/exec", `{"command":"true"}`, 429, "RATE_LIMITED"},
		{e2bfake.Fault{Op: e2bfake.OpCreate, Status: 503}, "/exec", `{"command":"true"}`, 503, "UNAVAILABLE"},
		{e2bfake.Fault{Op: e2bfake.OpStart, Status: 503}, "/exec", `{"command":"true"}`, 503, "UNAVAILABLE"},
		{e2bfake.Fault{Op: e2bfake.OpUpload, Status: 507}, "/files", `{"action":"write","path":"a.txt","content":"x"}`, 507, "RESOURCE_ERROR"},
		{e2bfake.Fault{Op: e2bfake.OpStart, EventDelay: 10 * time.Second}, "/exec", `{"command":"sleep 30","timeout":300}`, 408, "TIMEOUT"},
	} {
		f.Inject(tc.fault)
		resp, body := post(tc.path, tc.body)
		if resp.StatusCode != tc.status || body["code"] != tc.code {
			t.Errorf("%+v: %d %v, want %d %s", tc.fault, resp.StatusCode, body, tc.status, tc.code)
		}
		if tc.fault.RetryAfter > 0 && resp.Header.Get("Retry-After") != "9" {
			t.Errorf("Retry-After %q, want the vendor's 9", resp.Header.Get("Retry-After"))
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		if err := f.WaitFor(ctx, func() bool { return len(f.Live()) == 0 && f.LiveProcesses() == 0 }); err != nil {
			t.Errorf("after %+v: live %v: %v", tc.fault, f.Live(), err)
		}
		cancel()
	}
}

package daytona_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/daytona"
	"github.com/computemw/kit/providers/daytona/daytonafake"
)

// The whole path: a kit with the Daytona provider behind the net/http
// adapter, over real HTTP, against the contract fake.
func TestKitOverNetHTTP(t *testing.T) {
	p, fake := newProvider(t, daytonafake.Options{StartPolls: 1}, daytona.Options{})
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{p}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := kit.Close(ctx); err != nil {
			t.Errorf("kit.Close: %v", err)
		}
	})
	mux := http.NewServeMux()
	computehttp.Mount(mux, "/api", kit)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	post := func(path, body string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("%s: decoding: %v", path, err)
		}
		return resp.StatusCode, out
	}

	code, body := post("/api/exec", `{"command":"echo out; echo err >&2; exit 2","env":{"X":"y"}}`)
	if code != 200 || body["output"] != "out\n" || body["stderr"] != "err\n" || body["exitCode"] != 2.0 ||
		body["success"] != false || body["provider"] != "daytona" {
		t.Errorf("/exec: %d %v", code, body)
	}
	code, body = post("/api/exec", `{"command":"cat","stdin":"from stdin"}`)
	if code != 200 || body["output"] != "from stdin" {
		t.Errorf("/exec with stdin: %d %v", code, body)
	}
	if _, err := exec.LookPath("python3"); err == nil {
		code, body = post("/api/execute", `{"language":"python","code":"print(6*7)"}`)
		if code != 200 || body["output"] != "42\n" || body["success"] != true {
			t.Errorf("/execute python: %d %v", code, body)
		}
		code, body = post("/api/execute", `{"language":"python","code":"import sys; print(sys.stdin.read().upper())","stdin":"abc"}`)
		if code != 200 || body["output"] != "ABC\n" {
			t.Errorf("/execute python with stdin: %d %v", code, body)
		}
	}
	code, body = post("/api/execute", `{"language":"cobol","code":"x"}`)
	if code != 400 || body["code"] != "EXECUTION_ERROR" {
		t.Errorf("/execute with a language Daytona lacks: %d %v", code, body)
	}
	code, body = post("/api/exec", `{"command":"sleep 1000","timeout":300}`)
	if code != 408 || body["code"] != "TIMEOUT" {
		t.Errorf("/exec past its timeout: %d %v", code, body)
	}
	if fake.Made() < 4 {
		t.Errorf("the fake made %d sandboxes for 4+ stateless requests", fake.Made())
	}
}

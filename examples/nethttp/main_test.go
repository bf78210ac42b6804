package main

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/internal/exampletest"
	"github.com/computemw/kit/providers/cloudflare/cloudflarefake"
	"github.com/computemw/kit/providers/daytona/daytonafake"
)

func TestExample(t *testing.T) {
	srv := exampletest.Start(t, "github.com/computemw/kit/examples/nethttp")
	for _, c := range []struct{ lang, code string }{
		{"python", "print(2+2)"},
		{"node", "console.log(2+2)"},
		{"bash", "echo $((2+2))"},
	} {
		r := computemwtest.Do(t, context.Background(), "POST", srv.URL+"/api/execute",
			`{"language":"`+c.lang+`","code":"`+c.code+`"}`, nil)
		if r.Status != 200 || r.Body["output"] != "4\n" || r.Body["success"] != true {
			t.Errorf("%s: %d %s", c.lang, r.Status, r.Raw)
		}
	}
	r := computemwtest.Do(t, context.Background(), "POST", srv.URL+"/execute", `{"command":"echo hi"}`, nil)
	if r.Status != 200 || r.Body["output"] != "hi\n" {
		t.Errorf("quick start: %d %s", r.Status, r.Raw)
	}
	r = computemwtest.Do(t, context.Background(), "POST", srv.URL+"/api/compute/python", `{"code":"print(6*7)"}`, nil)
	if r.Status != 200 || r.Body["stdout"] != "42\n" {
		t.Errorf("middleware route: %d %s", r.Status, r.Raw)
	}
	r = computemwtest.Do(t, context.Background(), "POST", srv.URL+"/api/execute", `{"language":"python"}`, nil)
	if r.Status != 400 || r.Code() != "BAD_REQUEST" {
		t.Errorf("validation: %d %s", r.Status, r.Raw)
	}
	r = computemwtest.Do(t, context.Background(), "POST", srv.URL+"/api/execute", `{"language":"python","code":"while True: pass","timeout":500}`, nil)
	if r.Status != 408 || r.Code() != "TIMEOUT" {
		t.Errorf("timeout: %d %s", r.Status, r.Raw)
	}
	// The metrics at the root are governed as /api/metrics: a foreign
	// Host is refused on both.
	exampletest.CheckMetrics(t, srv, nil, "/metrics", "/api/metrics")
	exampletest.CheckJobs(t, srv)
	srv.Stop(t)
}

// TestGracefulShutdown sends SIGTERM while executions run: each finishes
// (or gets a clean error), and nothing is left behind.
func TestGracefulShutdown(t *testing.T) {
	srv := exampletest.Start(t, "github.com/computemw/kit/examples/nethttp")
	const n = 3
	replies := make(chan *computemwtest.Reply, n)
	for range n {
		go func() {
			replies <- computemwtest.Do(t, context.Background(), "POST", srv.URL+"/api/execute",
				`{"language":"python","code":"import time\ntime.sleep(1.5)\nprint('done')","timeout":20000}`, nil)
		}()
	}
	// Wait until all n executions hold a sandbox, reading the server's own
	// gauge: each try is a real request, bounded in number.
	running := false
	for range 2000 {
		r := computemwtest.Do(t, context.Background(), "GET", srv.URL+"/metrics", "", nil)
		if strings.Contains(string(r.Raw), "\ncompute_active_sandboxes 3\n") {
			running = true
			break
		}
	}
	if !running {
		t.Fatal("executions never started")
	}
	srv.Signal(t, syscall.SIGTERM)
	for range n {
		r := <-replies
		switch {
		case r.Status == 200 && r.Body["output"] == "done\n":
		case r.Status >= 400 && r.Code() != "":
			t.Logf("execution ended with a clean error: %d %s", r.Status, r.Code())
		default:
			t.Errorf("in-flight request: %d %s", r.Status, r.Raw)
		}
	}
	srv.Wait(t)
}

// With only an API key (and the API's URL, here a contract fake on
// loopback) in its environment, the starter runs code on that provider.
func TestExampleOnARemoteProvider(t *testing.T) {
	fake := daytonafake.New(t, daytonafake.Options{})
	srv := exampletest.Start(t, "github.com/computemw/kit/examples/nethttp",
		"DAYTONA_API_KEY="+fake.APIKey, "DAYTONA_API_URL="+fake.URL)
	r := computemwtest.Do(t, context.Background(), "POST", srv.URL+"/api/exec", `{"command":"echo remote-$((6*7))"}`, nil)
	if r.Status != 200 || r.Body["output"] != "remote-42\n" || r.Body["provider"] != "daytona" {
		t.Errorf("exec on the remote provider: %d %s", r.Status, r.Raw)
	}
	if fake.Made() == 0 {
		t.Error("the fake made no sandbox: the starter did not use the remote provider")
	}
	srv.Stop(t)
	if live := fake.Live(); len(live) != 0 {
		t.Errorf("sandboxes left on the provider after shutdown: %v", live)
	}
}

// With CLOUDFLARE_SANDBOX_URL (here the bridge's contract fake on
// loopback) and its key in its environment, the starter runs code on
// Cloudflare Sandbox.
func TestExampleOnCloudflare(t *testing.T) {
	fake := cloudflarefake.New(t)
	srv := exampletest.Start(t, "github.com/computemw/kit/examples/nethttp",
		"CLOUDFLARE_SANDBOX_URL="+fake.URL, "CLOUDFLARE_SANDBOX_API_KEY="+cloudflarefake.APIKey)
	r := computemwtest.Do(t, context.Background(), "POST", srv.URL+"/api/exec", `{"command":"echo cf-$((6*7))"}`, nil)
	if r.Status != 200 || r.Body["output"] != "cf-42\n" || r.Body["provider"] != "cloudflare" {
		t.Errorf("exec on Cloudflare: %d %s", r.Status, r.Raw)
	}
	if fake.Calls("createSandbox") == 0 {
		t.Error("the fake made no sandbox: the starter did not use the Cloudflare provider")
	}
	srv.Stop(t)
	if live := fake.Live(); len(live) != 0 {
		t.Errorf("sandboxes left on the bridge after shutdown: %v", live)
	}
}

// TestExampleAsOrdinaryUser runs the starter as an ordinary user (uid
// 65534) with a cgroup subtree delegated to it, as the quick start tells
// such a user: code runs, and the memory cap holds.
func TestExampleAsOrdinaryUser(t *testing.T) {
	computemwtest.Require(t, os.Geteuid() == 0, "delegating a cgroup subtree to another user needs root")
	const nobody = 65534
	parent := exampletest.DelegateCgroup(t, nobody)
	srv := exampletest.StartAs(t, "github.com/computemw/kit/examples/nethttp", nobody, "COMPUTEMW_CGROUP_PARENT="+parent)
	r := computemwtest.Do(t, context.Background(), "POST", srv.URL+"/api/execute",
		`{"language":"python","code":"import os\nprint(os.getuid() != 0, 2+2)"}`, nil)
	if r.Status != 200 || r.Body["output"] != "True 4\n" {
		t.Fatalf("execute: %d %s\n%s", r.Status, r.Raw, srv.Logs())
	}
	r = computemwtest.Do(t, context.Background(), "POST", srv.URL+"/api/execute",
		`{"language":"python","code":"b = bytearray(2 << 30)\nprint('allocated')"}`, nil)
	if r.Status != 507 || r.Code() != "RESOURCE_ERROR" {
		t.Errorf("2 GiB over the memory cap: %d %s", r.Status, r.Raw)
	}
	if logs := srv.Logs(); !strings.Contains(logs, "mode=unprivileged") || !strings.Contains(logs, "under "+parent) {
		t.Errorf("the starter did not say its mode:\n%s", logs)
	}
	srv.Stop(t)
}

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/internal/exampletest"
)

const (
	testSecret = "secure-example-test-secret-0123456789abcdef"
	metricsKey = "metrics-key-0123456789abcdef0123456789"
)

// mint builds and runs the mint command, as a user would.
func mint(t *testing.T, args ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mint")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/computemw/kit/examples/secure/mint").CombinedOutput(); err != nil {
		t.Fatalf("go build mint: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "COMPUTEMW_JWT_SECRET="+testSecret)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("mint %v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

func TestExample(t *testing.T) {
	srv := exampletest.Start(t, "github.com/computemw/kit/examples/secure",
		"COMPUTEMW_JWT_SECRET="+testSecret, "COMPUTEMW_RATE_FREE=3",
		"COMPUTEMW_QUOTA_DB="+filepath.Join(t.TempDir(), "usage.db"), "COMPUTEMW_METRICS_API_KEY="+metricsKey)
	ctx := context.Background()
	execute := func(header map[string]string) *computemwtest.Reply {
		return computemwtest.Do(t, ctx, "POST", srv.URL+"/api/execute", `{"language":"python","code":"print(2+2)"}`, header)
	}
	auth := map[string]string{"Authorization": "Bearer " + mint(t, "-sub", "alice", "-role", "user", "-plan", "free")}

	r := execute(nil)
	if r.Status != 401 || r.Code() != "UNAUTHORIZED" || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), `Bearer realm="computemw"`) {
		t.Errorf("without a token: %d %v %s", r.Status, r.Header, r.Raw)
	}
	r = computemwtest.Do(t, ctx, "GET", srv.URL+"/api/health", "", nil)
	if r.Status != 200 {
		t.Errorf("health: %d %s", r.Status, r.Raw)
	}
	r = execute(map[string]string{"Authorization": "Bearer " + mint(t, "-sub", "vic", "-role", "viewer")})
	if r.Status != 403 {
		t.Errorf("viewer: %d %s", r.Status, r.Raw)
	}

	// alice's free tier: 3 requests per window.
	r = execute(auth)
	if r.Status != 200 || r.Body["output"] != "4\n" || r.Header.Get("RateLimit-Limit") != "3" || r.Header.Get("RateLimit-Remaining") != "2" {
		t.Fatalf("with a token: %d %v %s", r.Status, r.Header, r.Raw)
	}
	r = computemwtest.Do(t, ctx, "GET", srv.URL+"/api/usage", "", auth)
	if usage, _ := r.Body["usage"].(map[string]any); r.Status != 200 || usage["executions"] != float64(1) {
		t.Errorf("usage: %d %s", r.Status, r.Raw)
	}
	if r = execute(auth); r.Status != 200 {
		t.Errorf("third request: %d %s", r.Status, r.Raw)
	}
	r = execute(auth)
	if r.Status != 429 || r.Code() != "RATE_LIMITED" || r.Header.Get("Retry-After") == "" {
		t.Errorf("past the free tier: %d %v %s", r.Status, r.Header, r.Raw)
	}
	// Metrics need credentials: the scraper's API key.
	r = computemwtest.Do(t, ctx, "GET", srv.URL+"/metrics", "", nil)
	if r.Status != 401 {
		t.Errorf("metrics without a key: %d", r.Status)
	}
	r = computemwtest.Do(t, ctx, "GET", srv.URL+"/metrics", "", map[string]string{"Authorization": "ApiKey " + metricsKey})
	if r.Status != 200 || !strings.Contains(string(r.Raw), "compute_executions_total") {
		t.Errorf("metrics with the scraper's key: %d %.200s", r.Status, r.Raw)
	}
	exampletest.CheckMetrics(t, srv, map[string]string{"Authorization": "ApiKey " + metricsKey}, "/metrics", "/api/metrics")
	srv.Stop(t)
}

// Without a secret the example serves loopback only: beyond it, the
// public development secret would let anyone mint an admin token.
func TestNoSecretOnlyOnLoopback(t *testing.T) {
	t.Setenv("COMPUTEMW_JWT_SECRET", "")
	if _, _, err := protections(context.Background(), false); err == nil {
		t.Fatal("started beyond loopback with the development secret")
	}
	_, closeStores, err := protections(context.Background(), true)
	if err != nil {
		t.Fatalf("on loopback: %v", err)
	}
	closeStores()
	for addr, want := range map[string]bool{"127.0.0.1:8080": true, "[::1]:80": true, "localhost:1": true, ":8080": false, "0.0.0.0:8080": false, "10.0.0.1:80": false} {
		if got := loopback(addr); got != want {
			t.Errorf("loopback(%q) = %v", addr, got)
		}
	}
}

package computemcp_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/ulule/limiter/v3"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/auth"
	"github.com/computemw/kit/computemw/quota"
	"github.com/computemw/kit/computemw/ratelimit"
	"github.com/computemw/kit/computemw/rbac"
	"github.com/computemw/kit/transports/computemcp"
	"github.com/computemw/kit/transports/computemcp/computemcptest"
)

// TestPolicies: tool calls pass the kit's policies as the routes do: a
// role that may not run code or create a sandbox gets FORBIDDEN tool
// errors, and an operation's rate limit makes the call past it a
// RATE_LIMITED tool error, with nothing run.
func TestPolicies(t *testing.T) {
	authn, err := auth.New(auth.Config{JWT: &auth.JWTConfig{Algorithms: []string{"HS256"},
		Keys: []auth.JWTKey{{Algorithm: "HS256", Key: []byte(secret)}}}})
	if err != nil {
		t.Fatal(err)
	}
	roles, err := rbac.New(rbac.Config{})
	if err != nil {
		t.Fatal(err)
	}
	limits, err := ratelimit.New(ratelimit.Config{
		Tiers: map[string]limiter.Rate{"free": {Period: time.Hour, Limit: 1000}},
		Ops:   map[computemw.Op]limiter.Rate{computemw.OpExecute: {Period: time.Hour, Limit: 1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	kit := localKit(t, computemw.Config{Policies: []computemw.Policy{authn, roles, limits}})
	base, _ := serve(t, kit, computemcp.Options{})
	endpoint := base + "/api/mcp"
	withRole := func(sub, role string) http.Header {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"sub": sub, "role": role, "exp": time.Now().Add(time.Hour).Unix(),
		}).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		return http.Header{"Authorization": {"Bearer " + s}}
	}
	viewer, err := computemcptest.Connect(t, endpoint, withRole("vic", "viewer"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for tool, args := range map[string]map[string]any{
		"run_code":     {"language": "python", "code": "print(1)"},
		"run_command":  {"command": "true"},
		"open_sandbox": nil,
	} {
		if res := computemcptest.Call(t, viewer, tool, args); computemcptest.ErrorCode(res) != "FORBIDDEN" {
			t.Errorf("viewer %s: %+v", tool, res.StructuredContent)
		}
	}

	user, err := computemcptest.Connect(t, endpoint, withRole("ursula", "user"), nil)
	if err != nil {
		t.Fatal(err)
	}
	args := map[string]any{"language": "python", "code": "print(1)"}
	if res := computemcptest.Call(t, user, "run_code", args); res.IsError {
		t.Fatalf("user's first run: %+v", res.StructuredContent)
	}
	res := computemcptest.Call(t, user, "run_code", args)
	if computemcptest.ErrorCode(res) != "RATE_LIMITED" || computemcptest.Structured(t, res)["retryAfter"] == nil {
		t.Errorf("user's second run, past the execute limit: %+v", res.StructuredContent)
	}
	computemcptest.WaitFor(t, "every sandbox destroyed", func() bool { return kit.Stats().Live == 0 })
}

// TestQuota: the caller's quota holds across MCP sessions as across
// routes: its plan's session share refuses a second session sandbox, and
// its executions run out with a QUOTA_EXCEEDED tool error.
func TestQuota(t *testing.T) {
	q, err := quota.New(quota.Config{Plans: map[string]quota.Limits{
		"free": {Executions: 2, CPUSeconds: 600, MemoryMBSeconds: 1e9, Sandboxes: 4, Sessions: 1, SessionLifetime: time.Hour},
	}})
	if err != nil {
		t.Fatal(err)
	}
	kit := localKit(t, computemw.Config{Policies: []computemw.Policy{authKitPolicy(t), q}})
	base, _ := serve(t, kit, computemcp.Options{})
	header := token(t, "quinn")
	one, err := computemcptest.Connect(t, base+"/api/mcp", header, nil)
	if err != nil {
		t.Fatal(err)
	}
	two, err := computemcptest.Connect(t, base+"/api/mcp", header, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res := computemcptest.Call(t, one, "open_sandbox", nil); res.IsError {
		t.Fatalf("open_sandbox: %+v", res.StructuredContent)
	}
	if res := computemcptest.Call(t, two, "open_sandbox", nil); computemcptest.ErrorCode(res) != "RATE_LIMITED" {
		t.Errorf("a second session sandbox past the plan's share: %+v", res.StructuredContent)
	}
	args := map[string]any{"language": "python", "code": "print(1)"}
	for i := range 2 {
		if res := computemcptest.Call(t, one, "run_code", args); res.IsError {
			t.Fatalf("run %d within the quota: %+v", i, res.StructuredContent)
		}
	}
	if res := computemcptest.Call(t, one, "run_code", args); computemcptest.ErrorCode(res) != "QUOTA_EXCEEDED" {
		t.Errorf("a run past the quota: %+v", res.StructuredContent)
	}
	_ = one.Close()
	_ = two.Close()
	computemcptest.WaitFor(t, "every sandbox destroyed", func() bool { return kit.Stats().Live == 0 })
}

package computemwtest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/ulule/limiter/v3"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/auth"
	"github.com/computemw/kit/computemw/fakeprovider"
	"github.com/computemw/kit/computemw/quota"
	"github.com/computemw/kit/computemw/ratelimit"
	"github.com/computemw/kit/computemw/rbac"
)

// PolicySecret is the HS256 secret of the kits built by [PolicyKit].
var PolicySecret = []byte("computemwtest-policy-suite-secret-0123456789")

// PolicyAPIKey is an API key that [PolicyKit] accepts, for the principal
// "service" with role "user" on plan "pro".
const PolicyAPIKey = "cmw_test_9f4c2e7a1b3d5f6e8a0c2b4d6f8e0a1c"

// PolicyOptions configure [PolicyKit].
type PolicyOptions struct {
	// RateLimit is the requests per hour of every tier; default 1000.
	RateLimit int64
	// Executions is the executions quota of every plan per day; default
	// unlimited.
	Executions int64
	// OpLimits are the rate limiter's limits per operation; nil is the
	// limiter's default.
	OpLimits map[computemw.Op]limiter.Rate
	// Config is the base configuration; its Policies and Hooks are
	// appended to.
	Config computemw.Config
}

// PolicyRoles is the role table of [PolicyKit]: the default roles, plus
// "local-only", which may do everything but only on the "local" provider.
func PolicyRoles() map[string]rbac.Permissions {
	roles := rbac.DefaultRoles()
	roles["local-only"] = rbac.Permissions{CanExecuteCode: true, CanAccessFiles: true, CanCreateSandbox: true,
		AllowedProviders: []string{"local"}}
	return roles
}

// PolicyKit builds a [SuiteKit] guarded by every policy of the kit, in
// order: JWT (HS256 with PolicySecret, issuer "computemwtest", audience
// "computemw") and API-key authentication, RBAC with [PolicyRoles], tiered
// rate limits, and quotas in memory.
func PolicyKit(t testing.TB, o PolicyOptions) (*computemw.Kit, *fakeprovider.Provider) {
	t.Helper()
	if o.RateLimit == 0 {
		o.RateLimit = 1000
	}
	authn, err := auth.New(auth.Config{
		JWT: &auth.JWTConfig{
			Algorithms: []string{"HS256"},
			Keys:       []auth.JWTKey{{Algorithm: "HS256", Key: PolicySecret}},
			Issuer:     "computemwtest",
			Audience:   "computemw",
			Leeway:     5 * time.Second,
		},
		APIKeys: map[string]computemw.Principal{
			auth.HashAPIKey(PolicyAPIKey): {ID: "service", Role: "user", Plan: "pro"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	roles, err := rbac.New(rbac.Config{Roles: PolicyRoles()})
	if err != nil {
		t.Fatal(err)
	}
	rate := limiter.Rate{Period: time.Hour, Limit: o.RateLimit}
	rl, err := ratelimit.New(ratelimit.Config{
		Tiers: map[string]limiter.Rate{"free": rate, "pro": rate, "enterprise": rate},
		Ops:   o.OpLimits,
	})
	if err != nil {
		t.Fatal(err)
	}
	limits := quota.Limits{Executions: o.Executions}
	q, err := quota.New(quota.Config{
		Plans:  map[string]quota.Limits{"free": limits, "pro": limits, "enterprise": limits},
		Period: quota.Daily,
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := o.Config
	cfg.Policies = append(cfg.Policies, authn, roles, rl, q)
	return SuiteKit(t, cfg)
}

// Token returns an HS256 token signed with secret for a principal,
// issued by "computemwtest" for "computemw" and valid for an hour.
// Claims in extra are added or replace the defaults.
func Token(t testing.TB, secret []byte, sub, role, plan string, extra jwt.MapClaims) string {
	t.Helper()
	now := time.Now()
	claims := jwt.MapClaims{
		"sub": sub, "role": role, "plan": plan,
		"iss": "computemwtest", "aud": "computemw",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	for k, v := range extra {
		claims[k] = v
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tamper rewrites a token's payload to claim the admin role.
func tamper(t testing.TB, payload string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(b, &claims); err != nil {
		t.Fatal(err)
	}
	claims["role"] = "admin"
	b, _ = json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(b)
}

func bearer(token string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token}
}

const challenge = `Bearer realm="computemw"`

// PolicySuite runs the kit's protections against an adapter's real server,
// with kits from [PolicyKit]: authentication (401 with a WWW-Authenticate
// challenge on the routes and on the middleware), RBAC (403), rate limits
// (RateLimit-* headers, 429 with Retry-After), quotas (429 before any
// sandbox is created) and GET /usage.
func PolicySuite(t *testing.T, h Harness) {
	exec := func(t *testing.T, base string, header map[string]string) *Reply {
		t.Helper()
		return Do(t, context.Background(), http.MethodPost, base+Prefix+"/exec", `{"command":"echo ok"}`, header)
	}

	t.Run("no credentials", func(t *testing.T) {
		kit, fake := PolicyKit(t, PolicyOptions{})
		base := h.Start(t, kit)
		r := exec(t, base, nil)
		expectError(t, r, 401, computemw.CodeUnauthorized)
		if got := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, challenge) {
			t.Errorf("route: WWW-Authenticate %q, want %s", got, challenge)
		}
		r = Do(t, context.Background(), http.MethodGet, base+SandboxPath, "", nil)
		expectError(t, r, 401, computemw.CodeUnauthorized)
		if got := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, challenge) {
			t.Errorf("middleware: WWW-Authenticate %q, want %s", got, challenge)
		}
		if n := fake.Created(); n != 0 {
			t.Errorf("unauthenticated requests created %d sandboxes", n)
		}
		if r := Do(t, context.Background(), http.MethodGet, base+Prefix+"/health", "", nil); r.Status != 200 {
			t.Errorf("health must stay public: %d %s", r.Status, r.Raw)
		}
	})

	t.Run("bad tokens", func(t *testing.T) {
		kit, fake := PolicyKit(t, PolicyOptions{})
		base := h.Start(t, kit)
		good := Token(t, PolicySecret, "alice", "user", "free", nil)
		parts := strings.Split(good, ".")
		cases := map[string]string{
			"garbage":      "not-a-token",
			"wrong secret": Token(t, []byte("another-secret-of-at-least-32-bytes!!"), "alice", "user", "free", nil),
			"expired":      Token(t, PolicySecret, "alice", "user", "free", jwt.MapClaims{"exp": time.Now().Add(-time.Hour).Unix()}),
			"tampered":     parts[0] + "." + tamper(t, parts[1]) + "." + parts[2],
			"alg none":     "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + parts[1] + ".",
		}
		for name, tok := range cases {
			t.Run(name, func(t *testing.T) {
				r := exec(t, base, bearer(tok))
				expectError(t, r, 401, computemw.CodeUnauthorized)
				if got := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, challenge) {
					t.Errorf("WWW-Authenticate %q", got)
				}
			})
		}
		if r := exec(t, base, map[string]string{"X-API-Key": "wrong"}); r.Status != 401 {
			t.Errorf("bad API key: %d %s", r.Status, r.Raw)
		}
		if n := fake.Created(); n != 0 {
			t.Errorf("bad credentials created %d sandboxes", n)
		}
		if r := exec(t, base, bearer(good)); r.Status != 200 {
			t.Errorf("good token: %d %s", r.Status, r.Raw)
		}
		if r := exec(t, base, map[string]string{"X-API-Key": PolicyAPIKey}); r.Status != 200 {
			t.Errorf("API key: %d %s", r.Status, r.Raw)
		}
	})

	t.Run("forbidden", func(t *testing.T) {
		kit, fake := PolicyKit(t, PolicyOptions{})
		base := h.Start(t, kit)
		r := exec(t, base, bearer(Token(t, PolicySecret, "vic", "viewer", "free", nil)))
		expectError(t, r, 403, computemw.CodeForbidden)
		r = exec(t, base, bearer(Token(t, PolicySecret, "lou", "local-only", "free", nil)))
		expectError(t, r, 403, computemw.CodeForbidden)
		if !strings.Contains(r.Body["error"].(string), "provider") {
			t.Errorf("provider refusal: %s", r.Raw)
		}
		r = Do(t, context.Background(), http.MethodGet, base+SandboxPath, "", bearer(Token(t, PolicySecret, "vic", "viewer", "free", nil)))
		expectError(t, r, 403, computemw.CodeForbidden)
		if n := fake.Created(); n != 0 {
			t.Errorf("forbidden requests created %d sandboxes", n)
		}
	})

	t.Run("rate limit per operation", func(t *testing.T) {
		kit, _ := PolicyKit(t, PolicyOptions{OpLimits: map[computemw.Op]limiter.Rate{computemw.OpExec: {Period: time.Minute, Limit: 2}}})
		base := h.Start(t, kit)
		auth := bearer(Token(t, PolicySecret, "otto", "user", "free", nil))
		for i := range 2 {
			r := exec(t, base, auth)
			if r.Status != 200 || r.Header.Get(ratelimit.HeaderLimit) != "2" || r.Header.Get(ratelimit.HeaderPolicy) != "1000;w=3600, 2;w=60" {
				t.Fatalf("exec %d: %d %v", i+1, r.Status, r.Header)
			}
		}
		expectError(t, exec(t, base, auth), 429, computemw.CodeRateLimited)
		r := Do(t, context.Background(), http.MethodPost, base+Prefix+"/execute", `{"language":"python","code":"echo ok"}`, auth)
		if r.Status != 200 || r.Header.Get(ratelimit.HeaderLimit) != "1000" {
			t.Errorf("execute beside a spent exec limit: %d %v", r.Status, r.Header)
		}
	})

	t.Run("rate limit", func(t *testing.T) {
		kit, _ := PolicyKit(t, PolicyOptions{RateLimit: 3})
		base := h.Start(t, kit)
		auth := bearer(Token(t, PolicySecret, "rita", "user", "free", nil))
		for i := range 3 {
			r := exec(t, base, auth)
			if r.Status != 200 {
				t.Fatalf("request %d: %d %s", i+1, r.Status, r.Raw)
			}
			if r.Header.Get(ratelimit.HeaderLimit) != "3" || r.Header.Get(ratelimit.HeaderRemaining) != strconv.Itoa(2-i) ||
				!strings.HasPrefix(r.Header.Get(ratelimit.HeaderPolicy), "3;w=3600") {
				t.Errorf("request %d: rate-limit headers %v", i+1, r.Header)
			}
			if reset, err := strconv.Atoi(r.Header.Get(ratelimit.HeaderReset)); err != nil || reset <= 0 || reset > 3600 {
				t.Errorf("request %d: %s %q", i+1, ratelimit.HeaderReset, r.Header.Get(ratelimit.HeaderReset))
			}
		}
		r := exec(t, base, auth)
		expectError(t, r, 429, computemw.CodeRateLimited)
		if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 {
			t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
		}
		if r.Header.Get(ratelimit.HeaderRemaining) != "0" {
			t.Errorf("429 without RateLimit-Remaining: 0: %v", r.Header)
		}
		// Another caller has its own budget.
		if r := exec(t, base, bearer(Token(t, PolicySecret, "other", "user", "free", nil))); r.Status != 200 {
			t.Errorf("other caller: %d %s", r.Status, r.Raw)
		}
	})

	t.Run("quota", func(t *testing.T) {
		kit, fake := PolicyKit(t, PolicyOptions{Executions: 2})
		base := h.Start(t, kit)
		auth := bearer(Token(t, PolicySecret, "quinn", "user", "free", nil))
		for i := range 2 {
			if r := exec(t, base, auth); r.Status != 200 {
				t.Fatalf("execution %d: %d %s", i+1, r.Status, r.Raw)
			}
		}
		created := fake.Created()
		r := exec(t, base, auth)
		expectError(t, r, 429, computemw.CodeQuotaExceeded)
		if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 {
			t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
		}
		if fake.Created() != created {
			t.Errorf("a refused execution created a sandbox")
		}
	})

	t.Run("usage", func(t *testing.T) {
		kit, _ := PolicyKit(t, PolicyOptions{Executions: 5})
		base := h.Start(t, kit)
		auth := bearer(Token(t, PolicySecret, "uma", "user", "free", nil))
		if r := exec(t, base, auth); r.Status != 200 {
			t.Fatalf("exec: %d %s", r.Status, r.Raw)
		}
		r := Do(t, context.Background(), http.MethodGet, base+Prefix+"/usage", "", auth)
		if r.Status != 200 || r.Body["principal"] != "uma" || r.Body["period"] != "day" {
			t.Fatalf("usage: %d %s", r.Status, r.Raw)
		}
		usage, _ := r.Body["usage"].(map[string]any)
		limits, _ := r.Body["limits"].(map[string]any)
		if usage["executions"] != float64(1) || limits["executions"] != float64(5) {
			t.Errorf("usage body %s", r.Raw)
		}
		for _, k := range []string{"periodStart", "periodEnd"} {
			if _, err := time.Parse(time.RFC3339, r.Body[k].(string)); err != nil {
				t.Errorf("%s: %v", k, err)
			}
		}
		r = Do(t, context.Background(), http.MethodGet, base+Prefix+"/usage", "", nil)
		expectError(t, r, 401, computemw.CodeUnauthorized)
	})
}

package computemw_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/ulule/limiter/v3"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/auth"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/computemw/kit/computemw/internal/policytest"
	"github.com/computemw/kit/computemw/quota"
	"github.com/computemw/kit/computemw/ratelimit"
	"github.com/computemw/kit/computemw/rbac"
)

// benchPolicies are the full chain: JWT (HS256) authentication, RBAC,
// rate limits and quotas in memory, with limits that never trip.
func benchPolicies(b *testing.B) ([]computemw.Policy, []*computemw.Hooks) {
	auth, err := auth.New(auth.Config{JWT: &auth.JWTConfig{
		Algorithms: []string{"HS256"}, Keys: []auth.JWTKey{{Algorithm: "HS256", Key: policytest.HMACSecret}},
		Issuer: "issuer", Audience: "computemw",
	}})
	if err != nil {
		b.Fatal(err)
	}
	rbac, err := rbac.New(rbac.Config{})
	if err != nil {
		b.Fatal(err)
	}
	rl, err := ratelimit.New(ratelimit.Config{
		Tiers: map[string]limiter.Rate{"free": {Period: time.Hour, Limit: 1 << 40}},
	})
	if err != nil {
		b.Fatal(err)
	}
	q, err := quota.New(quota.Config{Plans: map[string]quota.Limits{"free": {}}})
	if err != nil {
		b.Fatal(err)
	}
	return []computemw.Policy{auth, rbac, rl, q}, []*computemw.Hooks{q.Hooks()}
}

// benchServe serves POST /exec through the kit, as an adapter does, b.N
// times.
func benchServe(b *testing.B, kit *computemw.Kit, h http.Header) {
	h.Set("Content-Type", "application/json")
	route := computemwtest.RouteOf(kit, "/exec")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		resp := httpapi.New(kit).ServeRoute(ctx, route, &computemw.Request{
			Method: http.MethodPost, Header: h, Body: strings.NewReader(`{"command":"true"}`), RemoteAddr: "127.0.0.1:5000",
		})
		if resp.Status != http.StatusOK {
			b.Fatalf("%d %s", resp.Status, resp.Body)
		}
	}
}

// BenchmarkPolicyChain serves POST /exec on the fake provider behind JWT
// verification, RBAC, the memory rate limiter and the memory quota store.
// Compare with BenchmarkPolicyChainBare: the difference is the cost of the
// protections per request.
func BenchmarkPolicyChain(b *testing.B) {
	policies, hooks := benchPolicies(b)
	kit, _ := computemwtest.SuiteKit(b, computemw.Config{Policies: policies, Hooks: hooks})
	tok := policytest.Sign(b, jwt.SigningMethodHS256, policytest.HMACSecret, "", policytest.Claims(jwt.MapClaims{"plan": "free"}))
	benchServe(b, kit, http.Header{"Authorization": {"Bearer " + tok}})
}

// BenchmarkPolicyChainBare is BenchmarkPolicyChain without policies.
func BenchmarkPolicyChainBare(b *testing.B) {
	kit, _ := computemwtest.SuiteKit(b, computemw.Config{})
	benchServe(b, kit, http.Header{})
}

// BenchmarkJWTVerify is the authenticator alone on an HS256 token.
func BenchmarkJWTVerify(b *testing.B) {
	policies, _ := benchPolicies(b)
	auth := policies[0]
	tok := policytest.Sign(b, jwt.SigningMethodHS256, policytest.HMACSecret, "", policytest.Claims(nil))
	req := &computemw.Request{Header: http.Header{"Authorization": {"Bearer " + tok}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := auth.Admit(context.Background(), computemw.OpExec, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJWTVerifyUncached is BenchmarkJWTVerify with the verified-token
// cache disabled: the cost of a token's first use.
func BenchmarkJWTVerifyUncached(b *testing.B) {
	auth, err := auth.New(auth.Config{JWT: &auth.JWTConfig{
		Algorithms: []string{"HS256"}, Keys: []auth.JWTKey{{Algorithm: "HS256", Key: policytest.HMACSecret}},
		Issuer: "issuer", Audience: "computemw", CacheSize: -1,
	}})
	if err != nil {
		b.Fatal(err)
	}
	tok := policytest.Sign(b, jwt.SigningMethodHS256, policytest.HMACSecret, "", policytest.Claims(nil))
	req := &computemw.Request{Header: http.Header{"Authorization": {"Bearer " + tok}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := auth.Admit(context.Background(), computemw.OpExec, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPolicies is the protections alone, per request, as the kit runs
// them: every policy's Admit, every policy's Authorize, and the quota's
// ExecutionFinished — without the request body, the sandbox and the
// response that BenchmarkPolicyChain also pays for.
func BenchmarkPolicies(b *testing.B) {
	policies, hooks := benchPolicies(b)
	tok := policytest.Sign(b, jwt.SigningMethodHS256, policytest.HMACSecret, "", policytest.Claims(jwt.MapClaims{"plan": "free"}))
	h := http.Header{"Authorization": {"Bearer " + tok}, "Content-Type": {"application/json"}}
	req := &computemw.Request{Method: http.MethodPost, Header: h, RemoteAddr: "127.0.0.1:5000"}
	res := &computemw.Result{CPUTime: time.Millisecond, PeakMemory: 1 << 20, ExecutionTime: time.Millisecond}
	b.ReportAllocs()
	for b.Loop() {
		ctx, _ := computemw.BeginRequest(context.Background(), h)
		var err error
		for _, p := range policies {
			if ctx, err = p.Admit(ctx, computemw.OpExec, req); err != nil {
				b.Fatal(err)
			}
		}
		a := &computemw.Action{Op: computemw.OpExec, Provider: "fake", Timeout: time.Second}
		for _, p := range policies {
			if err := p.Authorize(ctx, a); err != nil {
				b.Fatal(err)
			}
		}
		for _, hk := range hooks {
			hk.ExecutionFinished(ctx, a, res, nil, time.Millisecond)
		}
	}
}

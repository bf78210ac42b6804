package ratelimit_test

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ulule/limiter/v3"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/internal/policytest"
	"github.com/computemw/kit/computemw/ratelimit"
)

func newRateLimiter(t testing.TB, cfg ratelimit.Config) *ratelimit.Limiter {
	t.Helper()
	rl, err := ratelimit.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return rl
}

// hit runs the rate limiter for one request and returns its error and
// response headers.
func hit(rl *ratelimit.Limiter, op computemw.Op, p *computemw.Principal, r *computemw.Request) (error, http.Header) {
	ctx, _ := computemw.BeginRequest(context.Background(), nil)
	if p != nil {
		ctx = computemw.WithPrincipal(ctx, *p)
	}
	if r == nil {
		r = &computemw.Request{Header: http.Header{}}
	}
	_, err := rl.Admit(ctx, op, r)
	return err, computemw.ResponseHeader(ctx)
}

func TestRateLimitTiers(t *testing.T) {
	rl := newRateLimiter(t, ratelimit.Config{Tiers: map[string]limiter.Rate{
		"free": {Period: time.Hour, Limit: 2},
		"pro":  {Period: time.Hour, Limit: 3},
	}})
	cases := []struct {
		principal computemw.Principal
		admitted  int
	}{
		{computemw.Principal{ID: "alice", Plan: "free"}, 2},
		{computemw.Principal{ID: "bob", Plan: "pro"}, 3},
		{computemw.Principal{ID: "carol", Plan: "platinum"}, 2}, // unknown plan: the default tier
		{computemw.Principal{ID: "dave"}, 2},
	}
	for _, c := range cases {
		t.Run(c.principal.ID, func(t *testing.T) {
			for i := range c.admitted {
				err, h := hit(rl, computemw.OpExec, &c.principal, nil)
				if err != nil {
					t.Fatalf("request %d: %v", i+1, err)
				}
				if h.Get(ratelimit.HeaderLimit) != strconv.Itoa(c.admitted) ||
					h.Get(ratelimit.HeaderRemaining) != strconv.Itoa(c.admitted-i-1) ||
					h.Get(ratelimit.HeaderPolicy) != strconv.Itoa(c.admitted)+";w=3600" {
					t.Errorf("request %d: headers %v", i+1, h)
				}
				if reset, _ := strconv.Atoi(h.Get(ratelimit.HeaderReset)); reset <= 0 || reset > 3600 {
					t.Errorf("reset in %d s", reset)
				}
				if h.Get(ratelimit.HeaderRateLimitLimit) != "" {
					t.Errorf("legacy headers without LegacyHeaders: %v", h)
				}
			}
			err, h := hit(rl, computemw.OpExec, &c.principal, nil)
			policytest.WantStatus(t, err, 429)
			if e := computemw.AsError(err); e.Code != computemw.CodeRateLimited || e.RetryAfter < time.Second || e.RetryAfter > time.Hour {
				t.Errorf("got %v Retry-After %v", e.Code, e.RetryAfter)
			}
			if h.Get(ratelimit.HeaderRemaining) != "0" {
				t.Errorf("429 headers %v", h)
			}
		})
	}
}

func TestRateLimitAnonymousByAddress(t *testing.T) {
	rl := newRateLimiter(t, ratelimit.Config{
		Tiers:          map[string]limiter.Rate{"free": {Period: time.Hour, Limit: 1}},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
	})
	req := func(remote, xff string) *computemw.Request {
		h := http.Header{}
		if xff != "" {
			h.Set("X-Forwarded-For", xff)
		}
		return &computemw.Request{RemoteAddr: remote, Header: h}
	}
	steps := []struct {
		name   string
		r      *computemw.Request
		status int
	}{
		{"first client", req("203.0.113.1:1", ""), 200},
		{"first client again", req("203.0.113.1:2", ""), 429},
		{"spoofing from an untrusted peer does not help", req("203.0.113.1:3", "9.9.9.9"), 429},
		{"second client", req("203.0.113.2:1", ""), 200},
		{"client behind the proxy", req("10.1.1.1:1", "198.51.100.4"), 200},
		{"same client behind the proxy", req("10.1.1.2:1", "6.6.6.6, 198.51.100.4"), 429},
		{"ipv6 client", req("[2001:db8:1:2::1]:1", ""), 200},
		{"same ipv6 /64", req("[2001:db8:1:2::ffff]:1", ""), 429},
	}
	for _, s := range steps {
		err, _ := hit(rl, computemw.OpExec, nil, s.r)
		if got := computemw.StatusOf(err); got != s.status {
			t.Errorf("%s: status %d, want %d", s.name, got, s.status)
		}
	}
}

func TestRateLimitExemptOps(t *testing.T) {
	rl := newRateLimiter(t, ratelimit.Config{Tiers: map[string]limiter.Rate{"free": {Period: time.Hour, Limit: 1}}})
	p := &computemw.Principal{ID: "alice"}
	for range 3 {
		if err, h := hit(rl, computemw.OpHealth, p, nil); err != nil || h.Get(ratelimit.HeaderLimit) != "" {
			t.Fatalf("health limited: %v %v", err, h)
		}
	}
	all := newRateLimiter(t, ratelimit.Config{Tiers: map[string]limiter.Rate{"free": {Period: time.Hour, Limit: 1}}, ExemptOps: []computemw.Op{}})
	hit(all, computemw.OpHealth, p, nil)
	err, _ := hit(all, computemw.OpHealth, p, nil)
	policytest.WantStatus(t, err, 429)
}

// brokenStore is a limiter store whose backend is down.
type brokenStore struct{ calls atomic.Int64 }

func (s *brokenStore) Get(context.Context, string, limiter.Rate) (limiter.Context, error) {
	s.calls.Add(1)
	return limiter.Context{}, policytest.ErrStoreDown
}
func (s *brokenStore) Peek(context.Context, string, limiter.Rate) (limiter.Context, error) {
	return limiter.Context{}, policytest.ErrStoreDown
}
func (s *brokenStore) Reset(context.Context, string, limiter.Rate) (limiter.Context, error) {
	return limiter.Context{}, policytest.ErrStoreDown
}
func (s *brokenStore) Increment(context.Context, string, int64, limiter.Rate) (limiter.Context, error) {
	return limiter.Context{}, policytest.ErrStoreDown
}

func TestRateLimitStoreFailure(t *testing.T) {
	p := &computemw.Principal{ID: "alice"}
	closed := newRateLimiter(t, ratelimit.Config{Store: &brokenStore{}})
	err, _ := hit(closed, computemw.OpExec, p, nil)
	policytest.WantStatus(t, err, 503)
	if e := computemw.AsError(err); e.Code != computemw.CodeUnavailable || !errors.Is(err, policytest.ErrStoreDown) {
		t.Errorf("got %v", err)
	}
	open := newRateLimiter(t, ratelimit.Config{Store: &brokenStore{}, FailOpen: true, Logger: policytest.DiscardLogger()})
	if err, _ := hit(open, computemw.OpExec, p, nil); err != nil {
		t.Errorf("fail open: %v", err)
	}
}

func TestRateLimitExactUnderConcurrency(t *testing.T) {
	const limit, requests = 50, 400
	rl := newRateLimiter(t, ratelimit.Config{Tiers: map[string]limiter.Rate{"free": {Period: time.Hour, Limit: limit}}})
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for range requests {
		wg.Go(func() {
			if err, _ := hit(rl, computemw.OpExec, &computemw.Principal{ID: "alice"}, nil); err == nil {
				admitted.Add(1)
			}
		})
	}
	wg.Wait()
	if n := admitted.Load(); n != limit {
		t.Errorf("admitted %d, want %d", n, limit)
	}
}

func TestRateLimitConfigErrors(t *testing.T) {
	cases := map[string]ratelimit.Config{
		"zero limit":        {Tiers: map[string]limiter.Rate{"free": {Period: time.Hour}}},
		"zero period":       {Tiers: map[string]limiter.Rate{"free": {Limit: 1}}},
		"missing default":   {Tiers: map[string]limiter.Rate{"pro": {Period: time.Hour, Limit: 1}}},
		"bad trusted proxy": {TrustedProxies: []netip.Prefix{{}}},
	}
	for name, cfg := range cases {
		if _, err := ratelimit.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// Per-operation limits count beside the tier, per caller; the headers
// describe the limit closest to being reached, and list every policy; the
// legacy headers come on request.
func TestRateLimitPerOperation(t *testing.T) {
	rl := newRateLimiter(t, ratelimit.Config{
		Tiers:         map[string]limiter.Rate{"free": {Period: time.Hour, Limit: 100}},
		Ops:           map[computemw.Op]limiter.Rate{computemw.OpExecute: {Period: time.Minute, Limit: 2}},
		LegacyHeaders: true,
	})
	p := &computemw.Principal{ID: "alice"}
	for i := range 2 {
		err, h := hit(rl, computemw.OpExecute, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		if h.Get(ratelimit.HeaderLimit) != "2" || h.Get(ratelimit.HeaderRemaining) != strconv.Itoa(1-i) ||
			h.Get(ratelimit.HeaderPolicy) != "100;w=3600, 2;w=60" || h.Get(ratelimit.HeaderRateLimitLimit) != "2" {
			t.Errorf("execute %d: %v", i+1, h)
		}
	}
	err, _ := hit(rl, computemw.OpExecute, p, nil)
	policytest.WantStatus(t, err, 429)
	// The tier (which counted all three executes) still has room for other
	// operations, and other callers
	// have their own operation budget.
	if err, h := hit(rl, computemw.OpExec, p, nil); err != nil || h.Get(ratelimit.HeaderLimit) != "100" || h.Get(ratelimit.HeaderRemaining) != "96" {
		t.Errorf("exec after the execute limit: %v %v", err, h)
	}
	if err, _ := hit(rl, computemw.OpExecute, &computemw.Principal{ID: "bob"}, nil); err != nil {
		t.Errorf("another caller's execute: %v", err)
	}
}

// By default the guide's operation limits apply: 100 executes and 500
// file operations per 15 minutes.
func TestRateLimitDefaultOperationLimits(t *testing.T) {
	rl := newRateLimiter(t, ratelimit.Config{Tiers: map[string]limiter.Rate{"free": {Period: time.Hour, Limit: 10_000}}})
	_, h := hit(rl, computemw.OpFiles, &computemw.Principal{ID: "a"}, nil)
	if h.Get(ratelimit.HeaderPolicy) != "10000;w=3600, 500;w=900" {
		t.Errorf("files: %v", h)
	}
	_, h = hit(rl, computemw.OpExecute, &computemw.Principal{ID: "a"}, nil)
	if h.Get(ratelimit.HeaderPolicy) != "10000;w=3600, 100;w=900" || h.Get(ratelimit.HeaderLimit) != "100" {
		t.Errorf("execute: %v", h)
	}
}

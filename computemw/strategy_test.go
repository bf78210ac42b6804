package computemw_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/fakeprovider"
)

// startKit builds a kit and closes it at cleanup, checking the close.
func startKit(t *testing.T, cfg computemw.Config) *computemw.Kit {
	t.Helper()
	kit, err := computemw.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := kit.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return kit
}

// createdOn records the provider of every sandbox the hooks see created.
type createdOn struct {
	mu         sync.Mutex
	providers  []string
	executedOn []string
	once       sync.Once
	h          *computemw.Hooks
}

func (c *createdOn) SandboxCreated(_ context.Context, sb computemw.Sandbox, _ time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.providers = append(c.providers, sb.Provider())
}

func (c *createdOn) ExecutionStarted(_ context.Context, a *computemw.Action) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.executedOn = append(c.executedOn, a.Provider)
}

// hooks returns c's hooks, the same on every call.
func (c *createdOn) hooks() *computemw.Hooks {
	c.once.Do(func() {
		c.h = &computemw.Hooks{SandboxCreated: c.SandboxCreated, ExecutionStarted: c.ExecutionStarted}
	})
	return c.h
}

func (c *createdOn) executions() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.executedOn...)
}

func (c *createdOn) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.providers...)
}

func TestFallbackOnProviderError(t *testing.T) {
	down, up := fakeprovider.New("down"), fakeprovider.New("up")
	down.CreateErr = fmt.Errorf("%w: the service is down", computemw.ErrUnavailable)
	hooks := &createdOn{}
	kit := startKit(t, computemw.Config{Providers: []computemw.Provider{down, up}, Strategy: computemw.Fallback("down", "up"),
		Hooks: []*computemw.Hooks{hooks.hooks()}})
	ctx := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "alice"})

	resp, body := call(t, ctx, kit, "POST", "/exec", "", `{"command":"echo hi"}`)
	if resp.Status != 200 || body["output"] != "hi\n" || body["provider"] != "up" {
		t.Fatalf("exec with the first provider down: %d %s", resp.Status, resp.Body)
	}
	resp, body = call(t, ctx, kit, "POST", "/sandboxes", "", ``)
	if resp.Status != 201 || body["provider"] != "up" {
		t.Fatalf("session with the first provider down: %d %s", resp.Status, resp.Body)
	}
	sb, err := kit.Create(ctx, "", computemw.CreateOptions{})
	if err != nil || sb.Provider() != "up" {
		t.Fatalf("Kit.Create: %v, %v", sb, err)
	}
	_ = sb.Destroy(ctx)
	if got := hooks.list(); len(got) != 3 || got[0] != "up" || got[1] != "up" || got[2] != "up" {
		t.Errorf("hooks saw sandboxes created on %v, want up three times", got)
	}
	if got := hooks.executions(); len(got) != 1 || got[0] != "up" {
		t.Errorf("hooks saw executions on %v, want one on up", got)
	}
	// A request that names a provider uses that one only.
	resp, body = call(t, ctx, kit, "POST", "/exec", "", `{"command":"echo hi","provider":"down"}`)
	if resp.Status != 503 || body["code"] != "UNAVAILABLE" {
		t.Errorf("exec naming the provider that is down: %d %s", resp.Status, resp.Body)
	}
	if down.Created() != 0 || up.Created() != 3 {
		t.Errorf("created: down %d, up %d", down.Created(), up.Created())
	}
}

func TestNoFallbackOnCallerError(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{computemw.Errorf(computemw.CodeBadRequest, "no such template"), 400, "BAD_REQUEST"},
		{fmt.Errorf("%w: creating took too long", computemw.ErrTimeout), 408, "TIMEOUT"},
		{fmt.Errorf("%w: your plan allows 2 sandboxes", computemw.ErrRateLimited), 429, "RATE_LIMITED"},
		{fmt.Errorf("%w: too much memory asked", computemw.ErrResource), 507, "RESOURCE_ERROR"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			first, second := fakeprovider.New("first"), fakeprovider.New("second")
			first.CreateErr = tc.err
			kit := startKit(t, computemw.Config{Providers: []computemw.Provider{first, second},
				Strategy: computemw.Fallback("first", "second"), UnhealthyAfter: 1})
			resp, body := call(t, context.Background(), kit, "POST", "/exec", "", `{"command":"echo hi"}`)
			if resp.Status != tc.status || body["code"] != tc.code {
				t.Errorf("exec: %d %s, want %d %s", resp.Status, resp.Body, tc.status, tc.code)
			}
			if second.Created() != 0 {
				t.Errorf("a caller's error fell back to the next provider")
			}
			if !kit.ProviderHealthy("first") {
				t.Errorf("a caller's error marked the provider unhealthy")
			}
		})
	}
}

func TestPriorityDoesNotFallBack(t *testing.T) {
	first, second := fakeprovider.New("first"), fakeprovider.New("second")
	first.CreateErr = fmt.Errorf("%w: down", computemw.ErrUnavailable)
	kit := startKit(t, computemw.Config{Providers: []computemw.Provider{first, second}, Strategy: computemw.Priority("first", "second")})
	if _, err := kit.Create(context.Background(), "", computemw.CreateOptions{}); computemw.StatusOf(err) != 503 {
		t.Errorf("Create: %v, want 503", err)
	}
	if second.Created() != 0 {
		t.Errorf("Priority fell back")
	}
}

func TestRoundRobinSpreads(t *testing.T) {
	ps := []*fakeprovider.Provider{fakeprovider.New("a"), fakeprovider.New("b"), fakeprovider.New("c")}
	kit := startKit(t, computemw.Config{Providers: []computemw.Provider{ps[0], ps[1], ps[2]}, Strategy: computemw.RoundRobin("a", "b", "c")})
	ctx := context.Background()
	for range 6 {
		resp, _ := call(t, ctx, kit, "POST", "/exec", "", `{"command":"echo hi"}`)
		if resp.Status != 200 {
			t.Fatalf("exec: %d %s", resp.Status, resp.Body)
		}
	}
	for _, p := range ps {
		if p.Created() != 2 {
			t.Errorf("provider %s made %d of 6 sandboxes, want 2", p.Name(), p.Created())
		}
	}
}

// flaky is a fake provider whose creations fail while its error is set.
type flaky struct {
	*fakeprovider.Provider
	err      atomic.Pointer[error]
	attempts atomic.Int64
}

func (f *flaky) Create(ctx context.Context, opts computemw.CreateOptions) (computemw.Sandbox, error) {
	if opts.Metadata["by"] == "test" { // not a health probe's
		f.attempts.Add(1)
	}
	if e := f.err.Load(); e != nil {
		return nil, *e
	}
	return f.Provider.Create(ctx, opts)
}

func TestUnhealthyProviderSkippedUntilProbe(t *testing.T) {
	a := &flaky{Provider: fakeprovider.New("a")}
	down := fmt.Errorf("%w: down", computemw.ErrUnavailable)
	a.err.Store(&down)
	b := fakeprovider.New("b")
	kit := startKit(t, computemw.Config{Providers: []computemw.Provider{a, b}, Strategy: computemw.Fallback("a", "b"),
		UnhealthyAfter: 2, HealthInterval: time.Nanosecond})
	ctx := context.Background()
	create := func() string {
		t.Helper()
		sb, err := kit.Create(ctx, "", computemw.CreateOptions{Metadata: map[string]string{"by": "test"}})
		if err != nil {
			t.Fatal(err)
		}
		defer sb.Destroy(ctx)
		return sb.Provider()
	}
	for range 2 {
		if p := create(); p != "b" {
			t.Fatalf("created on %s, want b", p)
		}
	}
	if kit.ProviderHealthy("a") {
		t.Fatal("two provider errors in a row did not mark the provider unhealthy")
	}
	tried := a.attempts.Load()
	if p := create(); p != "b" {
		t.Fatalf("created on %s, want b", p)
	}
	if a.attempts.Load() != tried {
		t.Errorf("a creation tried the unhealthy provider")
	}
	if got := kit.Health(ctx); got.Services["a"] != "unhealthy" || kit.ProviderHealthy("a") {
		t.Errorf("a failing probe: %v", got)
	}
	a.err.Store(nil)
	if got := kit.Health(ctx); got.Services["a"] != "healthy" {
		t.Fatalf("probe after recovery: %v", got)
	}
	if !kit.ProviderHealthy("a") {
		t.Fatal("a successful probe did not bring the provider back")
	}
	if p := create(); p != "a" {
		t.Errorf("after recovery created on %s, want a", p)
	}
}

func TestStrategyValidated(t *testing.T) {
	a := fakeprovider.New("a")
	if _, err := computemw.New(computemw.Config{Providers: []computemw.Provider{a}, Strategy: computemw.Fallback("a", "nope")}); err == nil {
		t.Error("a strategy naming an unregistered provider was accepted")
	}
	if _, err := computemw.New(computemw.Config{Providers: []computemw.Provider{a}, Strategy: computemw.RoundRobin()}); err == nil {
		t.Error("an empty strategy was accepted")
	}
}

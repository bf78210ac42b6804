package computemw_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
)

// capPolicy gives every creation the caps a quota plan or a role would.
type capPolicy struct {
	sandboxes, sessions int
	lifetime            time.Duration
}

func (capPolicy) Admit(ctx context.Context, _ computemw.Op, _ *computemw.Request) (context.Context, error) {
	return ctx, nil
}

func (p capPolicy) Authorize(_ context.Context, a *computemw.Action) error {
	if a.CreatesSandbox {
		a.MaxSandboxes, a.MaxSessions, a.MaxSessionLifetime = p.sandboxes, p.sessions, p.lifetime
	}
	return nil
}

func as(id string) context.Context {
	return computemw.WithPrincipal(context.Background(), computemw.Principal{ID: id})
}

// blockN starts n executions of caller that block until ctx ends, and
// waits until all n run.
func blockN(t *testing.T, ctx context.Context, kit *computemw.Kit, started <-chan struct{}, n int, run computemw.Run) *sync.WaitGroup {
	t.Helper()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { _, _ = kit.Execute(ctx, run) })
	}
	for range n {
		<-started
	}
	return &wg
}

// One caller cannot take every sandbox slot: the kit keeps an eighth of
// them (Config.MaxSandboxesPerPrincipal) for everyone else.
func TestOneCallerCannotTakeEverySlot(t *testing.T) {
	kit, fake := newKit(t, computemw.Config{MaxSandboxes: 8, QueueTimeout: -1})
	hog, cancel := context.WithCancel(computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "hog"}))
	wg := blockN(t, hog, kit, fake.Started(), 7, computemw.Run{Command: "block"})
	defer func() { cancel(); wg.Wait() }()

	_, err := kit.Execute(hog, computemw.Run{Command: "echo more"})
	if e := computemw.AsError(err); e == nil || e.Code != computemw.CodeRateLimited {
		t.Fatalf("the caller's 8th sandbox: %v, want RATE_LIMITED", err)
	}
	res, err := kit.Execute(as("victim"), computemw.Run{Command: "echo hi"})
	if err != nil || res.Stdout != "hi\n" {
		t.Fatalf("another caller beside one holding 7 of 8 slots: %v %v", res, err)
	}
}

// A policy's share lowers the caller's caps: sandboxes, sessions and a
// session's lifetime from its creation, however it is used.
func TestPolicyLowersCallerCaps(t *testing.T) {
	kit, fake := newKit(t, computemw.Config{Policies: []computemw.Policy{capPolicy{sandboxes: 2, sessions: 1, lifetime: time.Hour}}})
	alice := as("alice")
	info, err := kit.Sessions().Create(alice, computemw.SessionOptions{TTL: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if limit := info.CreatedAt.Add(time.Hour); info.ExpiresAt.After(limit) {
		t.Errorf("session expires at %v, past its lifetime's end %v", info.ExpiresAt, limit)
	}
	if _, err := kit.Sessions().Get(alice, info.SandboxID); err != nil {
		t.Fatal(err)
	}
	if got, _ := kit.Sessions().Get(alice, info.SandboxID); got.ExpiresAt.After(info.CreatedAt.Add(time.Hour)) {
		t.Errorf("a use pushed the session past its lifetime: %v", got.ExpiresAt)
	}
	_, err = kit.Sessions().Create(alice, computemw.SessionOptions{})
	if e := computemw.AsError(err); e == nil || e.Code != computemw.CodeRateLimited {
		t.Fatalf("a second session past the policy's cap of 1: %v, want RATE_LIMITED", err)
	}
	// The session holds one of alice's two sandboxes: one more runs, a
	// second waits (queueing off here: refused).
	kit2, fake2 := newKit(t, computemw.Config{QueueTimeout: -1, Policies: []computemw.Policy{capPolicy{sandboxes: 1}}})
	ctx, cancel := context.WithCancel(as("alice"))
	wg := blockN(t, ctx, kit2, fake2.Started(), 1, computemw.Run{Command: "block"})
	_, err = kit2.Execute(as("alice"), computemw.Run{Command: "echo hi"})
	cancel()
	wg.Wait()
	if e := computemw.AsError(err); e == nil || e.Code != computemw.CodeRateLimited {
		t.Errorf("a second sandbox past the policy's cap of 1: %v, want RATE_LIMITED", err)
	}
	_ = fake
}

// A session whose lifetime passed ends, even if its TTL has not.
func TestSessionLifetimeEnds(t *testing.T) {
	kit, fake := newKit(t, computemw.Config{Policies: []computemw.Policy{capPolicy{lifetime: time.Millisecond}}})
	if _, err := kit.Sessions().Create(as("alice"), computemw.SessionOptions{TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if !fake.WaitLive(0, time.Minute) {
		t.Fatal("a session past its lifetime is still alive")
	}
}

// One session runs at most Config.MaxSessionExecutions at once; more are
// refused, not queued.
func TestSessionExecutionCap(t *testing.T) {
	kit, fake := newKit(t, computemw.Config{MaxSessionExecutions: 2})
	alice := as("alice")
	info, err := kit.Sessions().Create(alice, computemw.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(alice)
	wg := blockN(t, ctx, kit, fake.Started(), 2, computemw.Run{Command: "block", SandboxID: info.SandboxID})
	_, err = kit.Execute(alice, computemw.Run{Command: "echo third", SandboxID: info.SandboxID})
	var e *computemw.Error
	if !errors.As(err, &e) || e.Code != computemw.CodeRateLimited {
		t.Errorf("a third execution in a session capped at 2: %v, want RATE_LIMITED", err)
	}
	// Another session of the same caller is not held back.
	other, err := kit.Sessions().Create(alice, computemw.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := kit.Execute(alice, computemw.Run{Command: "echo hi", SandboxID: other.SandboxID}); err != nil || res.Stdout != "hi\n" {
		t.Errorf("another session: %v %v", res, err)
	}
	cancel()
	wg.Wait()
	if res, err := kit.Execute(alice, computemw.Run{Command: "echo again", SandboxID: info.SandboxID}); err != nil || res.Stdout != "again\n" {
		t.Errorf("after the two ended: %v %v", res, err)
	}
}

// idleMeter records the idle time the kit reports for each sandbox.
type idleMeter struct {
	capPolicy
	idle chan string
}

func (m *idleMeter) CheckUsage(context.Context, *computemw.Action, *computemw.Result) error {
	return nil
}

func (m *idleMeter) MeterUsage(_ context.Context, a *computemw.Action, md *computemw.Metered) error {
	if md.IdleTime > 0 {
		select {
		case m.idle <- string(a.Op):
		default:
		}
	}
	return nil
}

// A session held idle is reported to the usage meters (a quota charges
// it); a request sandbox never is.
func TestIdleSessionMetered(t *testing.T) {
	m := &idleMeter{idle: make(chan string, 16)}
	kit, _ := newKit(t, computemw.Config{UsageCheckInterval: time.Millisecond, Policies: []computemw.Policy{m}})
	if _, err := kit.Sessions().Create(as("alice"), computemw.SessionOptions{}); err != nil {
		t.Fatal(err)
	}
	if op := <-m.idle; op != string(computemw.OpSessions) {
		t.Errorf("idle time reported for a %q sandbox, want a session's", op)
	}
}

//go:build linux

package local_test

import (
	"context"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/providers/local"
)

// waitUntil polls cond (the pool fills on its own goroutines) for at most
// twenty seconds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s never happened", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// The conformance suite holds for sandboxes handed out by the pool.
func TestProviderSuiteWarmPool(t *testing.T) {
	computemwtest.ProviderSuite(t, func(t *testing.T) computemw.Provider {
		p := newTestProvider(t, local.Config{MaxOutputBytes: suiteMaxOutput, WarmPool: local.PoolConfig{Size: 2, Workers: 1}})
		waitUntil(t, "a ready sandbox", func() bool { return p.PoolStats().Ready > 0 })
		return p
	}, computemwtest.ProviderSuiteOptions{MaxOutputBytes: suiteMaxOutput, OperationTimeout: 30 * time.Second})
}

// A create with the defaults takes a ready sandbox, with its own
// environment and time limit; each is handed out once; a create the pool
// cannot serve (other limits) makes its own.
func TestPoolHandsOutReadySandboxesOnce(t *testing.T) {
	p := newTestProvider(t, local.Config{WarmPool: local.PoolConfig{Size: 2, Workers: 1}})
	waitUntil(t, "a full pool", func() bool { return p.PoolStats().Ready == 2 })
	ctx := t.Context()
	a, err := p.Create(ctx, computemw.CreateOptions{Env: map[string]string{"GREETING": "warm"},
		Resources: computemw.Resources{MaxExecutionTime: 300 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Destroy(ctx)
	if s := p.PoolStats(); s.Hits != 1 || s.Misses != 0 {
		t.Fatalf("after one create: %+v, want one hit", s)
	}
	if res := run(t, a, `echo "$GREETING"`, computemw.ExecOptions{}); res.Stdout != "warm\n" {
		t.Errorf("the create's environment did not reach the pooled sandbox: %+v", res)
	}
	if _, err := a.Exec(ctx, "sleep 5", computemw.ExecOptions{Timeout: 10 * time.Second}); !isCode(err, computemw.CodeTimeout) {
		t.Errorf("the create's time limit did not reach the pooled sandbox: %v", err)
	}
	b, err := p.Create(ctx, computemw.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Destroy(ctx)
	if a.ID() == b.ID() {
		t.Fatal("one pooled sandbox was handed out twice")
	}
	seen := map[string]bool{a.ID(): true, b.ID(): true}
	if err := a.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	// Other limits cannot come from the pool.
	before := p.PoolStats()
	c, err := p.Create(ctx, computemw.CreateOptions{Resources: computemw.Resources{MemoryMB: 64}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Destroy(ctx)
	if s := p.PoolStats(); s.Hits != before.Hits {
		t.Errorf("a create with its own memory limit took a pooled sandbox: %+v", s)
	}
	// Later creates never get a sandbox that was handed out before.
	for range 4 {
		sb, err := p.Create(ctx, computemw.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if seen[sb.ID()] {
			t.Fatalf("sandbox %s handed out again", sb.ID())
		}
		seen[sb.ID()] = true
		if err := sb.Destroy(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// Each miss doubles the pool's target, up to MaxSize; without misses it
// shrinks back to Size.
func TestPoolAdaptsToDemand(t *testing.T) {
	const maxSize = 3
	p := newTestProvider(t, local.Config{WarmPool: local.PoolConfig{Size: 1, MaxSize: maxSize, Workers: 1, ShrinkAfter: 200 * time.Millisecond}})
	waitUntil(t, "a ready sandbox", func() bool { return p.PoolStats().Ready == 1 })
	ctx := t.Context()
	var held []computemw.Sandbox
	defer func() {
		for _, sb := range held {
			_ = sb.Destroy(context.Background())
		}
	}()
	for range 4 {
		sb, err := p.Create(ctx, computemw.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, sb)
	}
	s := p.PoolStats()
	if s.Misses == 0 || s.Target <= 1 {
		t.Fatalf("a burst did not grow the pool: %+v", s)
	}
	if want := min(maxSize, 1<<s.Misses); s.Target != want {
		t.Fatalf("after %d misses the target is %d, want %d (doubled each time, at most %d)", s.Misses, s.Target, want, maxSize)
	}
	waitUntil(t, "the pool shrinking back", func() bool { s := p.PoolStats(); return s.Target == 1 && s.Ready <= 1 })
}

// The pool reports the memory its ready sandboxes hold (each runs its
// init, which its cgroup counts), and stops filling at MaxIdleMB. (make
// bench reports how much a sandbox holds with the server's binary.)
func TestPoolIdleMemory(t *testing.T) {
	p := newTestProvider(t, local.Config{WarmPool: local.PoolConfig{Size: 4, MaxIdleMB: 1, Workers: 1}})
	if p.CgroupVersion() == 0 {
		t.Skip("without cgroups the pool cannot measure its memory")
	}
	waitUntil(t, "the pool settling", func() bool { return local.PoolSettled(p) && p.PoolStats().Ready > 0 })
	s := p.PoolStats()
	if s.IdleBytes == 0 {
		t.Errorf("ready sandboxes hold no memory: %+v; their inits run in their cgroups", s)
	}
	if s.Ready >= 4 {
		t.Errorf("the pool filled to its target past its 1 MB cap: %+v", s)
	}
}

// A ready sandbox's init runs, and its first execution is the init's
// child, not a bwrap process of its own. A ready sandbox whose init died is never handed out.
func TestPoolSandboxesRunTheirInit(t *testing.T) {
	p := newTestProvider(t, local.Config{WarmPool: local.PoolConfig{Size: 2, MaxSize: 2, Workers: 1}})
	waitUntil(t, "a full pool", func() bool { return p.PoolStats().Ready == 2 })
	pids, alive := local.PooledInits(p)
	for i, pid := range pids {
		if pid == 0 || !alive[i] {
			t.Fatalf("ready sandboxes' inits: %v, running %v", pids, alive)
		}
	}
	sb := newSandbox(t, p, computemw.CreateOptions{})
	// PID 1 of the execution's namespace is the init, not bwrap.
	if res := run(t, sb, "cat /proc/1/comm", computemw.ExecOptions{}); res.Stdout != "sandbox-init\n" {
		t.Errorf("a pooled sandbox's first execution ran beside %q, not its init", res.Stdout)
	}
	if got := local.SandboxInitPID(sb); !slices.Contains(pids, got) {
		t.Errorf("the execution ran in init %d, not a pooled one of %v", got, pids)
	}

	// Kill the other ready sandbox's init from the host.
	pids, _ = local.PooledInits(p)
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "the pool seeing its inits die", func() bool {
		_, alive := local.PooledInits(p)
		return !slices.Contains(alive, true) || p.PoolStats().Ready == 0
	})
	fresh := newSandbox(t, p, computemw.CreateOptions{})
	if res := run(t, fresh, "echo ok", computemw.ExecOptions{}); res.Stdout != "ok\n" {
		t.Fatalf("%+v", res)
	}
	if slices.Contains(pids, local.SandboxInitPID(fresh)) {
		t.Error("a sandbox whose init died was handed out")
	}
}

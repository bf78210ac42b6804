//go:build linux

package local_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
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

// The pool reports the memory its ready sandboxes hold (each holds its
// first process, which its cgroup counts), and stops filling at
// MaxIdleMB. (make bench reports how much a sandbox holds.)
func TestPoolIdleMemory(t *testing.T) {
	p := newTestProvider(t, local.Config{WarmPool: local.PoolConfig{Size: 32, MaxSize: 32, MaxIdleMB: 1, Workers: 1}})
	if p.CgroupVersion() == 0 {
		t.Skip("without cgroups the pool cannot measure its memory")
	}
	waitUntil(t, "the pool settling", func() bool { return local.PoolSettled(p) && p.PoolStats().Ready > 0 })
	s := p.PoolStats()
	if s.IdleBytes < 1<<20 || s.Ready >= 32 {
		t.Errorf("the pool stopped at %+v; want it filled until its ready sandboxes' cgroups count 1 MB, short of its target", s)
	}
}

// A ready sandbox's first process waits in its namespaces and cgroup, and
// the sandbox's first execution runs there: no bwrap process starts on
// the host for it. A ready sandbox whose first process died is never
// handed out.
func TestPoolSandboxesHoldTheirFirstProcess(t *testing.T) {
	p := newTestProvider(t, local.Config{WarmPool: local.PoolConfig{Size: 2, MaxSize: 2, Workers: 1, Recycle: local.RecycleConfig{Off: true}}})
	var held atomic.Int64
	local.SetSpawnHook(p, func(stage string) {
		if stage == "held" {
			held.Add(1)
		}
	})
	waitUntil(t, "a full pool", func() bool { return p.PoolStats().Ready == 2 })
	_, pids, alive := local.PooledHeld(p)
	var namespaces []string
	for i, pid := range pids {
		if pid == 0 || !alive[i] {
			t.Fatalf("ready sandboxes' first processes: %v, running %v", pids, alive)
		}
		ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
		if err != nil {
			t.Fatal(err)
		}
		namespaces = append(namespaces, ns)
	}
	sb := newSandbox(t, p, computemw.CreateOptions{Env: map[string]string{"GREETING": "it's\nhere"}})
	res := run(t, sb, `printf '%s|%s|%s|' "$GREETING" "$EXTRA" "$PWD"; grep -c 'Seccomp:.2' /proc/self/status; readlink /proc/self/ns/pid`,
		computemw.ExecOptions{Env: map[string]string{"EXTRA": "x"}})
	printed, ns, _ := strings.Cut(res.Stdout, "|1\n")
	if want := "it's\nhere|x|/workspace"; printed != want || res.ExitCode != 0 {
		t.Errorf("a pooled sandbox's first execution: %+v, want %q before its namespace", res, want)
	}
	// It ran in a held shell's namespaces: no bwrap process of its own.
	if ns = strings.TrimSpace(ns); !slices.Contains(namespaces, ns) || held.Load() != 1 {
		t.Errorf("the first execution ran in %q, not in a ready sandbox's namespace of %v (held starts: %d)", ns, namespaces, held.Load())
	}
	// Its second execution starts the sandbox's init; the shell is gone.
	if res := run(t, sb, "echo again", computemw.ExecOptions{}); res.Stdout != "again\n" || local.SandboxInitPID(sb) == 0 {
		t.Errorf("second execution: %+v, init %d", res, local.SandboxInitPID(sb))
	}

	// Kill the other ready sandbox's first process from the host.
	waitUntil(t, "a full pool", func() bool { return p.PoolStats().Ready == 2 })
	ids, pids, _ := local.PooledHeld(p)
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "the pool seeing its first processes die", func() bool {
		_, _, alive := local.PooledHeld(p)
		return !slices.Contains(alive, true) || p.PoolStats().Ready == 0
	})
	fresh := newSandbox(t, p, computemw.CreateOptions{})
	if res := run(t, fresh, "echo ok", computemw.ExecOptions{}); res.Stdout != "ok\n" {
		t.Fatalf("%+v", res)
	}
	if slices.Contains(ids, fresh.ID()) {
		t.Error("a sandbox whose first process died was handed out")
	}
}

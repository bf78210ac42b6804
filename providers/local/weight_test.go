//go:build linux

package local_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// cpuWeight reads a sandbox's CPU weight from its cgroup on the host:
// cpu.shares (v1) or cpu.weight (v2); "" when it has neither.
func cpuWeight(t *testing.T, sb computemw.Sandbox) string {
	t.Helper()
	for _, dir := range local.SandboxCgroupDirs(sb) {
		for _, f := range []string{"cpu.shares", "cpu.weight"} {
			if b, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
				return f + "=" + strings.TrimSpace(string(b))
			}
		}
	}
	return ""
}

// While the CPUs are short, a caller with more than one execution in the
// start gate runs the ones after its first at a small CPU weight; another
// caller's single execution starts beside the slots at the default
// weight; and the burst's sandbox gets the default back for an execution
// that is not crowded.
func TestCrowdedCallerRunsAtASmallCPUWeight(t *testing.T) {
	p := newTestProvider(t, local.Config{StartGate: local.StartGateConfig{Slots: -1}})
	local.GateOnBusyCPUs(p, 2)
	first := newSandbox(t, p, computemw.CreateOptions{})
	second := newSandbox(t, p, computemw.CreateOptions{})
	other := newSandbox(t, p, computemw.CreateOptions{})
	if cpuWeight(t, second) == "" {
		t.Skip("the sandboxes' cgroups have no CPU weight here (no cpu controller)")
	}
	defaultWeight := cpuWeight(t, second)

	// Each execution announces its start, then waits until its input ends.
	started := make(chan int, 3)
	type run struct {
		in   *io.PipeWriter
		done chan error
	}
	start := func(sb computemw.Sandbox, caller string, i int) run {
		r, w := io.Pipe()
		t.Cleanup(func() { w.Close() })
		done := make(chan error, 1)
		go func() {
			_, err := sb.Exec(t.Context(), "echo started; read x", computemw.ExecOptions{Caller: caller, Stdin: r,
				Stdout: &startSignal{started: started, i: i}, Timeout: time.Minute})
			done <- err
		}()
		return run{w, done}
	}
	end := func(what string, r run) {
		t.Helper()
		r.in.Close()
		if err := <-r.done; err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	a1 := start(first, "burst", 1)
	if got := <-started; got != 1 {
		t.Fatalf("execution %d started first", got)
	}
	a2 := start(second, "burst", 2)
	if got := <-started; got != 2 {
		t.Fatalf("execution %d started second", got)
	}
	if w := cpuWeight(t, second); w == defaultWeight {
		t.Errorf("the burst's second execution runs at the default weight %s", w)
	}
	if w := cpuWeight(t, first); w != defaultWeight {
		t.Errorf("the burst's first execution, alone when it started, runs at %s, want %s", w, defaultWeight)
	}
	// The slots are taken: another caller's single execution starts at
	// once beside them, at the default weight.
	b := start(other, "single", 3)
	if got := <-started; got != 3 {
		t.Fatalf("execution %d started third", got)
	}
	if s := p.StartGateStats(); s.Running != 3 || s.Waiting != 0 {
		t.Errorf("the single execution beside the burst: %+v", s)
	}
	if w := cpuWeight(t, other); w != defaultWeight {
		t.Errorf("another caller's single execution beside a burst runs at %s, want %s", w, defaultWeight)
	}
	end("the burst's first", a1)
	end("the burst's second", a2)
	end("the other caller's", b)

	// Alone again: the sandbox the burst used runs at the default weight.
	if res, err := second.Exec(t.Context(), "true", computemw.ExecOptions{Caller: "burst"}); err != nil || res.ExitCode != 0 {
		t.Fatalf("%v %+v", err, res)
	}
	if w := cpuWeight(t, second); w != defaultWeight {
		t.Errorf("an execution alone in the gate runs at %s, want %s", w, defaultWeight)
	}
}

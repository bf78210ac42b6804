//go:build linux

package local_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// procsWith returns the sandbox's processes whose command contains s.
func procsWith(t *testing.T, pm computemw.ProcessManager, s string) []computemw.ProcessInfo {
	t.Helper()
	procs, err := pm.Processes(t.Context())
	if err != nil {
		t.Fatalf("Processes: %v", err)
	}
	return slices.DeleteFunc(procs, func(p computemw.ProcessInfo) bool { return !strings.Contains(p.Command, s) })
}

// A background process survives the executions after it, is listed and
// can be killed; what an execution leaves behind is still killed when it
// ends, background process or not; Destroy ends everything.
func TestBackgroundProcesses(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	sb := newSandbox(t, p, computemw.CreateOptions{})
	pm := sb.(computemw.ProcessManager)
	ctx := t.Context()
	info, err := pm.StartProcess(ctx, "echo up > bg.txt; exec sleep 1001", computemw.ProcessOptions{Env: map[string]string{"MARK": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if info.PID <= 1 || !info.Background {
		t.Fatalf("started %+v", info)
	}
	// Executions come and go; the background process stays.
	for range 3 {
		if res := run(t, sb, "true", computemw.ExecOptions{}); res.ExitCode != 0 {
			t.Fatalf("%+v", res)
		}
	}
	waitUntil(t, "the background process writing its file", func() bool {
		res := run(t, sb, "cat bg.txt 2>/dev/null", computemw.ExecOptions{})
		return res.Stdout == "up\n"
	})
	if got := procsWith(t, pm, "sleep 1001"); len(got) != 1 || !got[0].Background || got[0].PID != info.PID {
		t.Fatalf("listed %+v, want the background sleep as PID %d", got, info.PID)
	}
	// An execution's own leftovers do not survive it, even now.
	if res := run(t, sb, "setsid sleep 1002 >/dev/null 2>&1 < /dev/null & echo ok", computemw.ExecOptions{}); res.Stdout != "ok\n" {
		t.Fatalf("%+v", res)
	}
	waitUntil(t, "the execution's leftover gone", func() bool { return len(procsWith(t, pm, "sleep 1002")) == 0 })
	if got := procsWith(t, pm, "sleep 1001"); len(got) != 1 {
		t.Fatalf("the background process did not survive: %+v", got)
	}
	if err := pm.KillProcess(ctx, info.PID); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the killed process gone", func() bool { return len(procsWith(t, pm, "sleep 1001")) == 0 })
	if err := pm.KillProcess(ctx, 999999); !isCode(err, computemw.CodeNotFound) {
		t.Errorf("killing no process: %v", err)
	}
	if err := pm.KillProcess(ctx, 1); !isCode(err, computemw.CodeNotFound) {
		t.Errorf("killing the init: %v", err)
	}
	// Destroy ends a background process too.
	if _, err := pm.StartProcess(ctx, "sleep 1003", computemw.ProcessOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := sb.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(hostProcsWithCmdline("sleep", "1003")) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("a background process survived Destroy")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// What a background program starts is background too: a child that left
// its session while the program runs, and a child the program left behind
// when it exited, survive the executions after them.
func TestBackgroundDescendantsSurvive(t *testing.T) {
	p := newTestProvider(t, local.Config{WarmPool: local.PoolConfig{Size: -1}})
	sb := newSandbox(t, p, computemw.CreateOptions{})
	pm := sb.(computemw.ProcessManager)
	ctx := t.Context()
	exactly := func(command string) []computemw.ProcessInfo {
		return slices.DeleteFunc(procsWith(t, pm, command), func(p computemw.ProcessInfo) bool { return p.Command != command })
	}
	// A child in a session of its own, beside a program that runs on.
	if _, err := pm.StartProcess(ctx, "setsid sleep 1007 >/dev/null 2>&1 </dev/null & exec sleep 1006", computemw.ProcessOptions{}); err != nil {
		t.Fatal(err)
	}
	// A child left behind by a program that exits.
	if _, err := pm.StartProcess(ctx, "sleep 1008 >/dev/null 2>&1 </dev/null & exit 0", computemw.ProcessOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the background programs' children", func() bool {
		return len(exactly("sleep 1006")) == 1 && len(exactly("sleep 1007")) == 1 && len(exactly("sleep 1008")) == 1 &&
			len(procsWith(t, pm, "exit 0")) == 0
	})
	for range 2 {
		if res := run(t, sb, "true", computemw.ExecOptions{}); res.ExitCode != 0 {
			t.Fatalf("%+v", res)
		}
	}
	for _, c := range []string{"sleep 1006", "sleep 1007", "sleep 1008"} {
		if got := exactly(c); len(got) != 1 || !got[0].Background {
			t.Errorf("%s after two executions: %+v, want one background process", c, got)
		}
	}
	// Once no background program runs, their descendants still do.
	if err := pm.KillProcess(ctx, exactly("sleep 1006")[0].PID); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the killed program gone", func() bool { return len(exactly("sleep 1006")) == 0 })
	if res := run(t, sb, "true", computemw.ExecOptions{}); res.ExitCode != 0 {
		t.Fatalf("%+v", res)
	}
	for _, c := range []string{"sleep 1007", "sleep 1008"} {
		if got := exactly(c); len(got) != 1 || !got[0].Background {
			t.Errorf("%s once no background program runs: %+v, want one background process", c, got)
		}
	}
}

// A program that exits at once is reported with its own status, never
// another message's: its exit can come before the init has finished
// reporting its start.
func TestQuickExitsKeepTheirStatus(t *testing.T) {
	p := newTestProvider(t, local.Config{WarmPool: local.PoolConfig{Size: -1}})
	sb := newSandbox(t, p, computemw.CreateOptions{})
	run(t, sb, "true", computemw.ExecOptions{}) // the init starts with the next
	for i := range 300 {
		res, err := sb.Exec(t.Context(), "exit 3", computemw.ExecOptions{})
		if err != nil || res.ExitCode != 3 {
			t.Fatalf("execution %d: exit code %v, error %v; want 3", i, res, err)
		}
	}
}

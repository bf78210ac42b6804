//go:build linux

package local_test

// Resource limits: each test fails if the limit it names is removed.

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// Protection: the pids cgroup. The bomb is stopped by the process cap (the
// cgroup's pids.events records it) and the call returns within its timeout.
func TestLimitForkBomb(t *testing.T) {
	const maxProcs = 64
	p := newTestProvider(t, local.Config{MaxProcesses: maxProcs, MemoryMB: 256})
	const timeout = 3 * time.Second
	for _, tc := range []struct {
		name, language, code string
	}{
		// The classic bomb, with the top shell held by exec (which needs
		// no new process) so that the run lasts until the limit bites.
		{"bash", "bash", ":(){ :|:& };:\nexec sleep 30\n"},
		// Every process forks forever and ignores failures.
		{"python", "python", "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !slices.Contains(p.Languages(), tc.language) {
				t.Skipf("%s is not installed on this host", tc.language)
			}
			sb := newSandbox(t, p, computemw.CreateOptions{})
			// The bomb never ends on its own: the call returns once its
			// time limit (or the process cap) ends it, well before
			// bounded gives up on it.
			_, err := bounded(t, timeout+10*time.Second, func() (*computemw.Result, error) {
				return sb.RunCode(t.Context(), tc.language, tc.code, computemw.ExecOptions{Timeout: timeout})
			})
			t.Logf("the bomb ended with: %v", err)
			wantCode(t, err, computemw.CodeResource, computemw.CodeTimeout)
			if n := pidsMaxEvents(t, local.SandboxCgroupDirs(sb)); n == 0 {
				t.Error("pids.events records no hit of the process cap: nothing capped the bomb")
			}
			if err := sb.Destroy(t.Context()); err != nil {
				t.Fatalf("Destroy after the fork bomb: %v", err)
			}
			// The host still works, and so does the provider.
			if out, err := exec.Command("/bin/sh", "-c", "echo host ok").Output(); err != nil || string(out) != "host ok\n" {
				t.Errorf("the host cannot run a process after the bomb: %q, %v", out, err)
			}
			fresh := newSandbox(t, p, computemw.CreateOptions{})
			if res := run(t, fresh, "echo fresh", computemw.ExecOptions{}); res.Stdout != "fresh\n" {
				t.Errorf("a new sandbox after the bomb: %+v", res)
			}
		})
	}
}

// pidsMaxEvents reads the "max" count of pids.events in a sandbox's cgroup.
func pidsMaxEvents(t *testing.T, dirs []string) int {
	t.Helper()
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "pids.events"))
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), " "); ok && k == "max" {
				n, _ := strconv.Atoi(v)
				return n
			}
		}
	}
	t.Fatalf("no pids.events in the sandbox's cgroup %v", dirs)
	return 0
}

// Protection: the memory cgroup.
func TestLimitMemory(t *testing.T) {
	p := newTestProvider(t, local.Config{MemoryMB: 64})
	if !slices.Contains(p.Languages(), "python") {
		t.Skip("python3 is not installed on this host")
	}
	sb := newSandbox(t, p, computemw.CreateOptions{})
	code := "print('allocating', flush=True)\ns = b'x' * (256 << 20)\nprint('allocated', len(s))\n"
	res, err := bounded(t, 30*time.Second, func() (*computemw.Result, error) {
		return sb.RunCode(t.Context(), "python", code, computemw.ExecOptions{Timeout: 20 * time.Second})
	})
	if !errors.Is(err, computemw.ErrResource) {
		t.Fatalf("allocating 256 MB under a 64 MB limit: got %v (result %+v), want an error of class %s", err, res, computemw.CodeResource)
	}
	if res == nil || strings.Contains(res.Stdout, "allocated") {
		t.Errorf("result %+v: want the partial output without the allocation's success", res)
	} else if !strings.Contains(res.Stdout, "allocating") {
		t.Errorf("partial stdout %q lacks what was printed before the allocation", res.Stdout)
	}
	// The sandbox survives its OOM.
	if res := run(t, sb, "echo after", computemw.ExecOptions{}); res.Stdout != "after\n" {
		t.Errorf("after the OOM: %+v", res)
	}
}

// Protection: the wall-clock timeout, which kills a CPU-bound program.
func TestLimitBusyLoopTimeout(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	if !slices.Contains(p.Languages(), "python") {
		t.Skip("python3 is not installed on this host")
	}
	sb := newSandbox(t, p, computemw.CreateOptions{})
	// The loop never ends: only the time limit ends the run, which keeps
	// what the program printed first.
	timedOutAfter(t, time.Second, "before the loop", func(limit time.Duration) (*computemw.Result, error) {
		return bounded(t, limit+10*time.Second, func() (*computemw.Result, error) {
			return sb.RunCode(t.Context(), "python", "print('before the loop', flush=True)\nwhile True: pass\n", computemw.ExecOptions{Timeout: limit})
		})
	})
}

// Protection: the in-memory output cap, which drains and drops the rest.
func TestLimitHugeOutputTruncated(t *testing.T) {
	const capBytes = 256 << 10
	p := newTestProvider(t, local.Config{MaxOutputBytes: capBytes})
	sb := newSandbox(t, p, computemw.CreateOptions{})
	start := time.Now()
	res, err := bounded(t, 40*time.Second, func() (*computemw.Result, error) {
		return sb.Exec(t.Context(), `head -c 52428800 /dev/zero | tr '\0' a; echo done >&2`, computemw.ExecOptions{Timeout: 30 * time.Second})
	})
	if err != nil {
		t.Fatalf("50 MB of output: %v", err)
	}
	t.Logf("50 MB of output took %s", time.Since(start))
	if !res.Truncated {
		t.Error("Truncated is false")
	}
	if len(res.Stdout) != capBytes {
		t.Errorf("len(Stdout) = %d, want the cap %d", len(res.Stdout), capBytes)
	}
	if strings.Trim(res.Stdout, "a") != "" {
		t.Error("the kept stdout is not the program's output")
	}
	if res.ExitCode != 0 || res.Stderr != "done\n" {
		t.Errorf("the program did not finish normally: exit %d, stderr %q", res.ExitCode, res.Stderr)
	}
}

// Protection: the sandbox's init kills what an execution left behind when
// it ends (internal/sandboxinit: reap, killLeftovers), and the cgroup kill on
// Destroy. Detached, double-forked and stopped processes are gone when Exec
// returns.
func TestLimitDetachedProcessesKilled(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	for _, tc := range []struct{ name, cmd string }{
		{"setsid", "setsid sleep 1000 >/dev/null 2>&1 < /dev/null & echo started"},
		{"double fork", "(sleep 1000 &) & echo started"},
		{"nohup", "nohup sleep 1000 >/dev/null 2>&1 & echo started"},
		{"stopped", "sh -c 'kill -STOP $$' & (sleep 1000 & kill -STOP $!) & echo started"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb := newSandbox(t, p, computemw.CreateOptions{})
			dirs := local.SandboxCgroupDirs(sb)
			init := local.SandboxInitPID(sb)
			left := func() []int {
				return slices.DeleteFunc(cgroupProcs(t, dirs), func(pid int) bool { return pid == init })
			}
			// The first execution runs as a bwrap process of its own,
			// the second through the sandbox's init: both clean up.
			for _, way := range []string{"first execution", "through the init"} {
				start := time.Now()
				res, err := bounded(t, 20*time.Second, func() (*computemw.Result, error) {
					return sb.Exec(t.Context(), tc.cmd, computemw.ExecOptions{Timeout: 10 * time.Second})
				})
				if err != nil {
					t.Fatalf("%s: Exec: %v (after %s)", way, err, time.Since(start))
				}
				if res.Stdout != "started\n" {
					t.Fatalf("%s: stdout %q, stderr %q", way, res.Stdout, res.Stderr)
				}
				init = local.SandboxInitPID(sb)
				// Only the sandbox's init stays; the kernel reaps what it
				// killed on its own time.
				if !eventually(5*time.Second, func() bool { return len(left()) == 0 }) {
					t.Errorf("%s: processes left in the sandbox's cgroup after Exec returned: %v", way, left())
				}
				if left := hostProcsWithCmdline("sleep", "1000"); len(left) > 0 {
					t.Errorf("%s: a detached sleep 1000 survived the Exec: pids %v", way, left)
				}
			}
			if local.SandboxInitPID(sb) == 0 {
				t.Fatal("the second execution did not start the sandbox's init")
			}
			if err := sb.Destroy(t.Context()); err != nil {
				t.Fatalf("Destroy: %v", err)
			}
			for _, d := range dirs {
				if _, err := os.Stat(d); err == nil {
					t.Errorf("the sandbox's cgroup %s survived Destroy", d)
				}
			}
			if left := hostProcsWithCmdline("sleep", "1000"); len(left) > 0 {
				t.Errorf("a detached sleep 1000 survived Destroy: pids %v", left)
			}
		})
	}
}

//go:build linux

package local_test

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/providers/local"
)

// suiteLanguages are the RunCode cases of the conformance suite; each
// program uses syntax its neighbours would reject, so a runtime table that
// mixed them up would fail.
var suiteLanguages = map[string]computemwtest.ProgramCase{
	"python": {Code: "print(*['hello', 'from', 'python'])\n", Stdout: "hello from python\n"},
	"node":   {Code: "console.log(['hello', 'from', 'node'].join(' '));\n", Stdout: "hello from node\n"},
	"bash":   {Code: "a=(hello from bash)\necho \"${a[@]}\"\n", Stdout: "hello from bash\n"},
	"sh":     {Code: "printf '%s\\n' \"hello from sh\"\n", Stdout: "hello from sh\n"},
}

const suiteMaxOutput = 64 << 10

func TestProviderSuite(t *testing.T) {
	probe := newTestProvider(t, local.Config{})
	langs := map[string]computemwtest.ProgramCase{}
	for name, pc := range suiteLanguages {
		if slices.Contains(probe.Languages(), name) {
			langs[name] = pc
		} else {
			t.Logf("runtime %q is not installed on this host; its RunCode case is not run", name)
		}
	}
	computemwtest.ProviderSuite(t, func(t *testing.T) computemw.Provider {
		return newTestProvider(t, local.Config{MaxOutputBytes: suiteMaxOutput})
	}, computemwtest.ProviderSuiteOptions{
		Languages:        langs,
		MaxOutputBytes:   suiteMaxOutput,
		OperationTimeout: 30 * time.Second,
	})
}

func TestMissingBwrap(t *testing.T) {
	base := t.TempDir()
	_, err := local.New(local.Config{
		BwrapPath:    "/nonexistent/bwrap",
		BaseDir:      base,
		CgroupParent: cgroupTestRoot + "/" + randHex(),
	})
	if !errors.Is(err, local.ErrBwrapMissing) {
		t.Fatalf("New with a missing bwrap: got %v, want ErrBwrapMissing", err)
	}
	if !strings.Contains(err.Error(), "'bubblewrap'") {
		t.Errorf("error %q does not name the 'bubblewrap' package", err)
	}
	if entries, _ := os.ReadDir(base); len(entries) > 0 {
		t.Errorf("New failed but left %d entries in BaseDir", len(entries))
	}
}

// syncBuffer is a bytes.Buffer safe for a slog handler and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestInsecureNoNamespacesWarns(t *testing.T) {
	var logs syncBuffer
	p := newTestProvider(t, local.Config{
		InsecureNoNamespaces: true,
		Logger:               slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	var warned bool
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, "level=WARN") && strings.Contains(line, "INSECURE") {
			warned = true
		}
	}
	if !warned {
		t.Errorf("insecure mode was not logged at WARN level; logs:\n%s", logs.String())
	}
	sb := newSandbox(t, p, computemw.CreateOptions{})
	res := run(t, sb, "echo hello", computemw.ExecOptions{})
	if res.Stdout != "hello\n" || res.ExitCode != 0 {
		t.Errorf("echo in insecure mode: %+v", res)
	}
}

func TestBaseDirMustBeSearchableBySandboxes(t *testing.T) {
	requireBwrap(t)
	if os.Geteuid() != 0 {
		t.Skip("only a root server runs sandboxes as another host uid")
	}
	closed := t.TempDir() // 0700: the sandbox uid cannot search it
	if err := os.Chmod(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	parent := cgroupTestRoot + "/" + randHex()
	t.Cleanup(func() { removeCgroupParent(parent) })
	_, err := local.New(local.Config{BaseDir: filepath.Join(closed, "base"), CgroupParent: parent})
	if err == nil || !strings.Contains(err.Error(), "cannot search") {
		t.Fatalf("New with a BaseDir under a 0700 directory: got %v, want a startup error", err)
	}
	if _, err := os.Stat(filepath.Join(closed, "base")); err == nil {
		if entries, _ := os.ReadDir(filepath.Join(closed, "base")); len(entries) > 0 {
			t.Errorf("New failed but left %d entries in BaseDir", len(entries))
		}
	}
}

// TestCgroupLimits checks the limits written to a sandbox's cgroup, on the
// cgroup version the host has.
func TestCgroupLimits(t *testing.T) {
	p := newTestProvider(t, local.Config{MemoryMB: 96, MaxProcesses: 32, CPUCores: 0.5})
	sb := newSandbox(t, p, computemw.CreateOptions{Resources: computemw.Resources{MemoryMB: 80, MaxProcesses: 1000}})
	dirs := local.SandboxCgroupDirs(sb)
	// find returns the content of the first file of that name in the
	// sandbox's cgroup directories.
	find := func(t *testing.T, name string) string {
		t.Helper()
		for _, d := range dirs {
			if b, err := os.ReadFile(filepath.Join(d, name)); err == nil {
				return strings.TrimSpace(string(b))
			}
		}
		t.Fatalf("no %s in the sandbox's cgroup %v", name, dirs)
		return ""
	}
	mem := strconv.Itoa(80 << 20) // the request, lower than the provider's cap
	t.Run("v1", func(t *testing.T) {
		if v := p.CgroupVersion(); v != 1 {
			t.Skipf("the host has cgroup v%d, not v1", v)
		}
		for file, want := range map[string]string{
			"memory.limit_in_bytes": mem,
			"pids.max":              "32", // the provider's cap, lower than the request
			"cpu.cfs_quota_us":      "50000",
			"cpu.cfs_period_us":     "100000",
		} {
			if got := find(t, file); got != want {
				t.Errorf("%s = %s, want %s", file, got, want)
			}
		}
	})
	t.Run("v2", func(t *testing.T) {
		if v := p.CgroupVersion(); v != 2 {
			t.Skipf("the host has cgroup v%d, not v2", v)
		}
		for file, want := range map[string]string{
			"memory.max":      mem,
			"memory.swap.max": "0",
			"pids.max":        "32",
			"cpu.max":         "50000 100000",
		} {
			if got := find(t, file); got != want {
				t.Errorf("%s = %s, want %s", file, got, want)
			}
		}
	})
}

// TestUsageMeasured checks that CPU time and peak memory are measured.
func TestUsageMeasured(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	if !slices.Contains(p.Languages(), "python") {
		t.Skip("python3 is not installed on this host")
	}
	sb := newSandbox(t, p, computemw.CreateOptions{})
	code := "import time\nt = time.process_time()\nbuf = bytearray(16 << 20)\nfor i in range(0, len(buf), 4096): buf[i] = 1\nwhile time.process_time() - t < 0.3: pass\nprint('done')\n"
	res, err := sb.RunCode(t.Context(), "python", code, computemw.ExecOptions{Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stdout != "done\n" {
		t.Fatalf("stdout %q, stderr %q", res.Stdout, res.Stderr)
	}
	if res.CPUTime < 200*time.Millisecond {
		t.Errorf("CPUTime = %s for a 300ms busy loop", res.CPUTime)
	}
	if res.PeakMemory < 16<<20 {
		t.Errorf("PeakMemory = %d for a program that touched 16 MiB", res.PeakMemory)
	}
	u, err := sb.Usage(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if u.Executions != 1 || u.CPUTime < res.CPUTime || u.PeakMemory < res.PeakMemory {
		t.Errorf("Usage = %+v after one execution with result %+v", u, res)
	}
}

// TestUsageMeasuredPerExecution checks that each execution of a session
// gets its own CPU time and peak memory: the counters read before and
// after it are current, and the peak is reset between executions.
func TestUsageMeasuredPerExecution(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	if !slices.Contains(p.Languages(), "python") {
		t.Skip("python3 is not installed on this host")
	}
	sb := newSandbox(t, p, computemw.CreateOptions{})
	// A program that does nothing: its own CPU time, not the busy one's.
	// Its peak is the init's memory (larger in a race-enabled build).
	small := func(when string) *computemw.Result {
		t.Helper()
		res := run(t, sb, "/usr/bin/env true", computemw.ExecOptions{})
		if res.ExitCode != 0 || res.CPUTime >= 100*time.Millisecond {
			t.Errorf("%s: a program that does nothing: %+v", when, res)
		}
		return res
	}
	small("first execution")
	small("second execution")
	code := "import time\nt = time.process_time()\nbuf = bytearray(32 << 20)\nfor i in range(0, len(buf), 4096): buf[i] = 1\nwhile time.process_time() - t < 0.3: pass\nprint('done')\n"
	busy, err := sb.RunCode(t.Context(), "python", code, computemw.ExecOptions{Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if busy.Stdout != "done\n" || busy.CPUTime < 200*time.Millisecond || busy.PeakMemory < 32<<20 {
		t.Errorf("a 300ms busy loop that touched 32 MiB: %+v", busy)
	}
	// The peak was reset after the busy one: 32 MiB less.
	if after := small("after the busy one"); after.PeakMemory > busy.PeakMemory-16<<20 {
		t.Errorf("peak %d after a program whose peak was %d: not reset", after.PeakMemory, busy.PeakMemory)
	}
}

// A program's tracebacks name main.py, not a hidden file; a user's own
// main.py is left alone.
func TestRunCodeTracebackNames(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	sb := newSandbox(t, p, computemw.CreateOptions{})
	res, err := sb.RunCode(t.Context(), "python", "raise SystemExit(__file__)", computemw.ExecOptions{})
	if err != nil || !strings.HasSuffix(strings.TrimSpace(res.Stderr), "/main.py") {
		t.Errorf("program file %q (%v), want main.py", res.Stderr, err)
	}
	if err := sb.WriteFile(t.Context(), "main.py", []byte("mine")); err != nil {
		t.Fatal(err)
	}
	res, err = sb.RunCode(t.Context(), "python", "print(open('main.py').read())", computemw.ExecOptions{})
	if err != nil || res.Stdout != "mine\n" {
		t.Errorf("the user's main.py: %+v %v", res, err)
	}
	if _, err := sb.Stat(t.Context(), "main.py"); err != nil {
		t.Errorf("the user's main.py is gone: %v", err)
	}
}

// Without namespaces, a ready sandbox's first execution still ends with
// its program: what the program left behind holds none of the pipes the
// provider waits on.
func TestInsecureHeldExecutionEndsWithItsProgram(t *testing.T) {
	p := newTestProvider(t, local.Config{InsecureNoNamespaces: true, WarmPool: local.PoolConfig{Size: 1, MaxSize: 1, Workers: 1}})
	waitUntil(t, "a ready sandbox", func() bool { return p.PoolStats().Ready == 1 })
	sb := newSandbox(t, p, computemw.CreateOptions{})
	// What it leaves never ends: an execution that waited for it would
	// end with its time limit instead.
	res, err := sb.Exec(t.Context(), "sleep 1000 >/dev/null 2>&1 & exit 3", computemw.ExecOptions{Timeout: 30 * time.Second})
	if err != nil || res.ExitCode != 3 {
		t.Fatalf("got %+v, %v; want exit 3 as soon as the shell exits", res, err)
	}
}

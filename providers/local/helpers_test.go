//go:build linux

package local_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/providers/local"
)

// cgroupTestRoot is the cgroup under which every test provider gets its own
// CgroupParent.
const cgroupTestRoot = "computemw-test"

// requireBwrap skips the test when bubblewrap is missing, or fails it under
// CI (CI=true), through the kit's one rule for missing services.
func requireBwrap(t *testing.T) {
	t.Helper()
	_, err := exec.LookPath("bwrap")
	computemwtest.Require(t, err == nil,
		"bwrap is not installed (install the 'bubblewrap' package); the local provider's sandbox tests need it")
}

func randHex() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// testBaseDir is a fresh BaseDir. t.TempDir makes its directories 0700;
// the sandboxed processes run as an unprivileged host uid that must be able
// to traverse them to reach their workspace, so they are opened up to 0711
// (search only, no listing).
func testBaseDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// newTestProvider starts a provider on a fresh BaseDir and a unique
// CgroupParent. It is closed when the test ends, and then checkNoLeaks
// verifies that it left nothing behind.
func newTestProvider(t *testing.T, cfg local.Config) *local.Provider {
	t.Helper()
	if cfg.BaseDir == "" {
		cfg.BaseDir = testBaseDir(t)
	}
	if cfg.CgroupParent == "" {
		cfg.CgroupParent = cgroupTestRoot + "/" + randHex()
	}
	onTestTemplate(&cfg)
	var p *local.Provider
	// Cleanups run last-in first-out: Close first, then the leak check.
	t.Cleanup(func() {
		if p != nil {
			checkNoLeaks(t, p, cfg.BaseDir, cfg.CgroupParent)
		}
	})
	p = startProvider(t, cfg)
	return p
}

// startProvider starts a provider that is closed when the test ends, with
// no leak check of its own (for tests where providers share a BaseDir).
func startProvider(t *testing.T, cfg local.Config) *local.Provider {
	t.Helper()
	if !cfg.InsecureNoNamespaces {
		requireBwrap(t)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	if cfg.WarmPool.Size == 0 {
		// Tests that count sandboxes, uids or processes see only their
		// own; the pool has tests of its own (pool_test.go).
		cfg.WarmPool.Size = -1
	}
	p, err := local.New(cfg)
	if err != nil && strings.Contains(err.Error(), "cgroups are unavailable") {
		computemwtest.Require(t, false, "the local provider needs writable cgroups (run as root): "+err.Error())
	}
	if err != nil {
		t.Fatalf("local.New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

// newSandbox creates a sandbox that is destroyed when the test ends.
func newSandbox(t *testing.T, p computemw.Provider, opts computemw.CreateOptions) computemw.Sandbox {
	t.Helper()
	sb, err := p.Create(t.Context(), opts)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := sb.Destroy(ctx); err != nil {
			t.Errorf("Destroy: %v", err)
		}
	})
	return sb
}

// run executes a command that must not return an error (any exit status).
func run(t *testing.T, sb computemw.Sandbox, command string, opts computemw.ExecOptions) *computemw.Result {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = 20 * time.Second
	}
	res, err := sb.Exec(t.Context(), command, opts)
	if err != nil {
		t.Fatalf("Exec(%q): %v", command, err)
	}
	return res
}

// bounded runs call and fails the test if it has not returned within d, so
// that a regression fails fast instead of hanging the test binary. A hung
// call is left to the sandbox's Destroy (in t.Cleanup), which kills its
// processes.
func bounded(t *testing.T, d time.Duration, call func() (*computemw.Result, error)) (*computemw.Result, error) {
	t.Helper()
	type outcome struct {
		res *computemw.Result
		err error
	}
	ch := make(chan outcome, 1)
	go func() {
		res, err := call()
		ch <- outcome{res, err}
	}()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case o := <-ch:
		return o.res, o.err
	case <-timer.C:
		t.Fatalf("the execution did not return within %s", d)
		return nil, nil
	}
}

// timedOutAfter runs an execution that prints printed and then cannot
// end, under time limits that double from first until one ends it after
// it printed: how long a program takes to print depends on the machine and
// its load, so a limit that ended it sooner says nothing about what is
// kept. Every run must end with TIMEOUT, never before its limit; the
// result of the first that printed is returned, and the test fails when
// none kept what the program printed. exec runs on the test's goroutine
// and bounds its execution (bounded).
func timedOutAfter(t *testing.T, first time.Duration, printed string, exec func(limit time.Duration) (*computemw.Result, error)) *computemw.Result {
	t.Helper()
	limit := first
	for range 6 {
		start := time.Now()
		res, err := exec(limit)
		if elapsed := time.Since(start); elapsed < limit {
			t.Fatalf("a %s time limit ended the execution after %s", limit, elapsed)
		}
		if !errors.Is(err, computemw.ErrTimeout) {
			t.Fatalf("a %s time limit: got %v (result %+v), want an error of class %s", limit, err, res, computemw.CodeTimeout)
		}
		if res != nil && strings.Contains(res.Stdout, printed) {
			return res
		}
		t.Logf("a %s time limit ended the program before it printed %q (result %+v); doubling it", limit, printed, res)
		limit *= 2
	}
	t.Fatalf("no time limit up to %s kept what the program printed (%q)", limit/2, printed)
	return nil
}

// checkNoLeaks asserts that a closed provider left nothing: no entry in its
// BaseDir (workspaces, instance directory, lock file), no cgroup under its
// CgroupParent, no process in those cgroups, and no child process of the
// test binary (bwrap monitors are direct children; tests that use this
// helper do not run in parallel). It then removes the CgroupParent
// directories, which providers share and never delete, and kills whatever
// leaked so that one failure does not cascade.
func checkNoLeaks(t *testing.T, p *local.Provider, baseDir, cgroupParent string) {
	t.Helper()
	if s := p.StartGateStats(); s.Running != 0 || s.Waiting != 0 {
		t.Errorf("leak: the start gate still counts %d running and %d waiting after Close", s.Running, s.Waiting)
	}
	if entries, err := os.ReadDir(baseDir); err != nil {
		t.Errorf("leak check: %v", err)
	} else if len(entries) > 0 {
		names := make([]string, 0, len(entries))
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("leak: BaseDir still holds %v after Close", names)
	}
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], baseDir+"/") {
				t.Errorf("leak: %s is still mounted after Close", f[4])
				_ = syscall.Unmount(f[4], syscall.MNT_DETACH)
			}
		}
	}

	prefix := "/" + cgroupParent + "/"
	for _, pr := range listProcs() {
		for _, cg := range pr.cgroups {
			if strings.HasPrefix(cg+"/", prefix) {
				t.Errorf("leak: process %d (%q) is still in cgroup %s", pr.pid, pr.cmdline, cg)
				_ = syscall.Kill(pr.pid, syscall.SIGKILL)
				break
			}
		}
	}
	for _, pr := range childProcs() {
		t.Errorf("leak: child process %d (%s %q) of the test binary is still there", pr.pid, pr.comm, pr.cmdline)
	}

	for _, dir := range local.CgroupParentDirs(p) {
		var left []string
		_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() && path != dir {
				left = append(left, path)
			}
			return nil
		})
		if len(left) > 0 {
			t.Errorf("leak: cgroups left under %s: %v", dir, left)
		}
		removeCgroupTree(dir)
		_ = os.Remove(filepath.Dir(dir)) // the shared test root, once empty
	}
}

// removeCgroupTree removes a cgroup directory and its children, deepest
// first (cgroup directories are removed with rmdir, never recursively).
func removeCgroupTree(dir string) {
	var dirs []string
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, path)
		}
		return nil
	})
	slices.Reverse(dirs)
	for _, d := range dirs {
		_ = os.Remove(d)
	}
}

// removeCgroupParent removes a CgroupParent that no provider is left to
// report the directories of (after a failed New), on either cgroup version.
func removeCgroupParent(parent string) {
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", parent))
	dirs = append(dirs, filepath.Join("/sys/fs/cgroup", parent))
	for _, d := range dirs {
		removeCgroupTree(d)
		_ = os.Remove(filepath.Dir(d))
	}
}

// procInfo is one process of the host, as seen from /proc.
type procInfo struct {
	pid, ppid int
	comm      string
	cmdline   []string
	cgroups   []string // the cgroup path of every hierarchy
}

// listProcs lists the host's processes; ones that exit meanwhile are
// skipped.
func listProcs() []procInfo {
	entries, _ := os.ReadDir("/proc")
	var out []procInfo
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		pr, ok := readProc(pid)
		if ok {
			out = append(out, pr)
		}
	}
	return out
}

func readProc(pid int) (procInfo, bool) {
	dir := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return procInfo{}, false
	}
	// pid (comm) state ppid ...; comm may contain spaces and parentheses.
	open, end := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
	if open < 0 || end < open {
		return procInfo{}, false
	}
	fields := strings.Fields(string(stat[end+1:]))
	if len(fields) < 2 {
		return procInfo{}, false
	}
	pr := procInfo{pid: pid, comm: string(stat[open+1 : end])}
	pr.ppid, _ = strconv.Atoi(fields[1])
	if cl, err := os.ReadFile(dir + "/cmdline"); err == nil {
		pr.cmdline = strings.Split(strings.TrimRight(string(cl), "\x00"), "\x00")
	}
	if cg, err := os.ReadFile(dir + "/cgroup"); err == nil {
		for line := range strings.Lines(string(cg)) {
			parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
			if len(parts) == 3 {
				pr.cgroups = append(pr.cgroups, parts[2])
			}
		}
	}
	return pr, true
}

// childProcs lists the live children of the test binary.
func childProcs() []procInfo {
	self := os.Getpid()
	var out []procInfo
	for _, pr := range listProcs() {
		if pr.ppid == self {
			out = append(out, pr)
		}
	}
	return out
}

// hostProcsWithCmdline lists host processes whose argv equals argv.
func hostProcsWithCmdline(argv ...string) []procInfo {
	var out []procInfo
	for _, pr := range listProcs() {
		if slices.Equal(pr.cmdline, argv) {
			out = append(out, pr)
		}
	}
	return out
}

// cgroupProcs returns the PIDs in a set of cgroup directories (one per
// hierarchy). A removed cgroup has none.
func cgroupProcs(t *testing.T, dirs []string) []int {
	t.Helper()
	var pids []int
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatalf("read %s/cgroup.procs: %v", dir, err)
		}
		for f := range strings.FieldsSeq(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil && !slices.Contains(pids, pid) {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// eventually polls cond until it holds or the deadline passes. It is only
// for waiting on asynchronous kernel teardown (process reaping, cgroup
// emptying), never for synchronisation between the test and a sandbox.
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for backoff := time.Millisecond; ; backoff = min(2*backoff, 50*time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(backoff)
	}
}

// wantCode fails unless err has the class code.
func wantCode(t *testing.T, err error, codes ...computemw.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("got a nil error, want one of %v", codes)
	}
	if got := computemw.AsError(err).Code; !slices.Contains(codes, got) {
		t.Fatalf("got error %v (code %s), want one of %v", err, got, codes)
	}
}

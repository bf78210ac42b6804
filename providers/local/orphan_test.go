//go:build linux

package local_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// The environment variables that turn TestOrphanHelperProcess into a
// crashing server.
const (
	orphanBaseEnv   = "COMPUTEMW_TEST_ORPHAN_BASEDIR"
	orphanCgroupEnv = "COMPUTEMW_TEST_ORPHAN_CGROUP"
	orphanExitCode  = 7
)

// TestOrphanHelperProcess is not a test: TestOrphanReclaim runs the test
// binary again with it selected, as a server that creates a sandbox and then
// dies without destroying anything.
func TestOrphanHelperProcess(t *testing.T) {
	base := os.Getenv(orphanBaseEnv)
	if base == "" {
		t.Skip("helper process of TestOrphanReclaim")
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "orphan helper:", err)
		os.Exit(2)
	}
	p, err := local.New(local.Config{BaseDir: base, CgroupParent: os.Getenv(orphanCgroupEnv)})
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	sb, err := p.Create(ctx, computemw.CreateOptions{})
	if err != nil {
		fail(err)
	}
	if err := sb.WriteFile(ctx, "state.txt", []byte("left behind")); err != nil {
		fail(err)
	}
	if res, err := sb.Exec(ctx, "echo ran > ran.txt", computemw.ExecOptions{}); err != nil || res.ExitCode != 0 {
		fail(fmt.Errorf("exec: %+v, %v", res, err))
	}
	fmt.Printf("instance=%s\nsandbox=%s\nworkspace=%s\ntmpfs=%t\n", local.InstanceName(p), sb.ID(), local.SandboxWorkspace(sb), local.TmpfsWorkspaces(p))
	for _, d := range local.SandboxCgroupDirs(sb) {
		fmt.Printf("cgroup=%s\n", d)
	}
	os.Exit(orphanExitCode) // crash: no Destroy, no Close
}

// TestOrphanReclaim simulates a crashed server and checks that the next
// provider on the same BaseDir and CgroupParent removes everything the dead
// instance left: workspace, instance directory, lock file and cgroups — and
// kills a process still in the orphaned cgroup — while sparing a live
// instance.
func TestOrphanReclaim(t *testing.T) {
	requireBwrap(t)
	base := testBaseDir(t)
	parent := cgroupTestRoot + "/" + randHex()

	// Both providers below share base and parent: one leak check, after
	// both are closed.
	var alive *local.Provider
	t.Cleanup(func() {
		if alive != nil {
			checkNoLeaks(t, alive, base, parent)
		}
	})
	// A live provider on the same BaseDir must survive the reclaim.
	alive = startProvider(t, local.Config{BaseDir: base, CgroupParent: parent})
	aliveSB := newSandbox(t, alive, computemw.CreateOptions{})

	cmd := exec.Command(os.Args[0], "-test.run=^TestOrphanHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), orphanBaseEnv+"="+base, orphanCgroupEnv+"="+parent)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != orphanExitCode {
		t.Fatalf("helper process: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	var inst, ws string
	var tmpfs bool
	var cgroups []string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		switch k {
		case "instance":
			inst = v
		case "workspace":
			ws = v
		case "tmpfs":
			tmpfs = v == "true"
		case "cgroup":
			cgroups = append(cgroups, v)
		}
	}
	if inst == "" || ws == "" || len(cgroups) == 0 {
		t.Fatalf("the helper did not report its state:\n%s", out)
	}

	// What the crash left behind.
	instDir := filepath.Join(base, inst)
	lock := filepath.Join(base, inst+".lock")
	left := append([]string{instDir, lock, ws}, cgroups...)
	files := []string{filepath.Join(ws, "state.txt"), filepath.Join(ws, "ran.txt")}
	if tmpfs {
		// A tmpfs workspace lives in a mount namespace that only the
		// server held: its files ended with the server.
		for _, path := range files {
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the crashed server's workspace file %s outlived it: %v", path, err)
			}
		}
	} else {
		left = append(left, files...)
	}
	for _, path := range left {
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("the crashed instance should have left %s: %v", path, err)
		}
	}

	// A process still running in the orphaned cgroup (a crash can leave
	// one when the kill on parent death is lost).
	straggler := exec.Command("sleep", "1001")
	if err := straggler.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- straggler.Wait() }()
	t.Cleanup(func() {
		_ = straggler.Process.Kill()
		<-waited
	})
	for _, d := range cgroups {
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(straggler.Process.Pid)), 0); err != nil {
			t.Fatalf("move the straggler into %s: %v", d, err)
		}
	}

	// A process outside every cgroup holding a file of the orphan's
	// instance, as a bwrap monitor caught starting by the crash does.
	held, err := os.Open(filepath.Join(instDir, "etc", "hosts"))
	if err != nil {
		t.Fatal(err)
	}
	holder := exec.Command("sleep", "1003")
	holder.ExtraFiles = []*os.File{held}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	held.Close()
	holderWaited := make(chan error, 1)
	go func() { holderWaited <- holder.Wait() }()
	t.Cleanup(func() {
		_ = holder.Process.Kill()
		<-holderWaited
	})

	// The next server starts.
	next := startProvider(t, local.Config{BaseDir: base, CgroupParent: parent})

	for _, path := range []string{instDir, lock} {
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the orphan's %s survived the reclaim (%v)", path, err)
		}
	}
	for _, d := range cgroups {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the orphan's cgroup %s survived the reclaim (%v)", d, err)
		}
		if _, err := os.Stat(filepath.Dir(d)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the orphan's instance cgroup %s survived the reclaim (%v)", filepath.Dir(d), err)
		}
	}
	wantKilled(t, waited, "the straggler in the orphaned cgroup")
	wantKilled(t, holderWaited, "the process holding the orphan's files")

	// The live instance and the new one both work.
	if _, err := os.Stat(filepath.Join(base, local.InstanceName(alive))); err != nil {
		t.Errorf("the reclaim removed a live instance: %v", err)
	}
	if res := run(t, aliveSB, "echo alive", computemw.ExecOptions{}); res.Stdout != "alive\n" {
		t.Errorf("the live instance's sandbox after the reclaim: %+v", res)
	}
	if res := run(t, newSandbox(t, next, computemw.CreateOptions{}), "echo next", computemw.ExecOptions{}); res.Stdout != "next\n" {
		t.Errorf("the new instance's sandbox: %+v", res)
	}
}

// wantKilled waits (at most ten seconds) for the end of a process whose
// Wait reports to waited, and checks that SIGKILL ended it. The result
// goes back into waited for the test's cleanup.
func wantKilled(t *testing.T, waited chan error, what string) {
	t.Helper()
	select {
	case err := <-waited:
		waited <- err
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Errorf("%s ended with %v, want killed", what, err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("%s is still running after the reclaim", what)
	}
}

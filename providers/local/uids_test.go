//go:build linux

package local_test

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// hostUID is the host uid a sandbox's processes run as: the owner, seen
// from the host, of a file they create.
func hostUID(t *testing.T, sb computemw.Sandbox) int {
	t.Helper()
	name := "uid-probe-" + randHex()
	run(t, sb, "touch "+name, computemw.ExecOptions{})
	fi, err := os.Stat(filepath.Join(local.SandboxWorkspaceFiles(sb), name))
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid)
}

// Protection: a host uid per live sandbox (uids.go). Two sandboxes never
// share one, each is in the configured range, and a destroyed sandbox's
// uid goes back to the pool.
func TestSandboxesHaveTheirOwnHostUID(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only a root server runs sandboxes as other host uids")
	}
	const first, count = 1_900_100_000, 2
	p := newTestProvider(t, local.Config{UIDRange: local.UIDRange{First: first, Count: count}})
	a := newSandbox(t, p, computemw.CreateOptions{})
	b := newSandbox(t, p, computemw.CreateOptions{})
	ua, ub := hostUID(t, a), hostUID(t, b)
	if ua == ub {
		t.Fatalf("two live sandboxes run as the same host uid %d", ua)
	}
	for _, u := range []int{ua, ub} {
		if u < first || u >= first+count {
			t.Errorf("host uid %d is outside the range %d+%d", u, first, count)
		}
	}
	// The range is used up: one more is refused, until one is destroyed.
	_, err := tryCreate(t, p, computemw.CreateOptions{})
	wantCode(t, err, computemw.CodeUnavailable)
	if err := a.Destroy(t.Context()); err != nil {
		t.Fatal(err)
	}
	c := newSandbox(t, p, computemw.CreateOptions{})
	if uc := hostUID(t, c); uc != ua {
		t.Errorf("the freed uid %d was not reused (got %d)", ua, uc)
	}
}

// A range that holds a host user is refused.
func TestUIDRangeMustBeFree(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the range is used only by a root server")
	}
	requireBwrap(t)
	parent := cgroupTestRoot + "/" + randHex()
	t.Cleanup(func() { removeCgroupParent(parent) })
	_, err := local.New(local.Config{BaseDir: testBaseDir(t), CgroupParent: parent, UIDRange: local.UIDRange{First: 0, Count: 10}})
	if err == nil {
		t.Fatal("New accepted a UIDRange that holds root")
	}
	_, err = local.New(local.Config{BaseDir: testBaseDir(t), CgroupParent: parent, UIDRange: local.UIDRange{First: 65530, Count: 10}})
	if err == nil || !strings.Contains(err.Error(), "nobody") {
		t.Fatalf("New with a UIDRange holding nobody: %v", err)
	}
}

// One sandbox cannot use up a per-user kernel limit for the others: while
// one holds every inotify instance its uid may have, another can still
// make one.
func TestPerUserLimitsNotShared(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	if !slices.Contains(p.Languages(), "python") {
		t.Skip("python3 is not installed on this host")
	}
	hog := newSandbox(t, p, computemw.CreateOptions{})
	other := newSandbox(t, p, computemw.CreateOptions{})
	const hogCode = `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
fds = []
while True:
    fd = libc.inotify_init1(0)
    if fd < 0:
        break
    fds.append(fd)
print("held", len(fds), os.strerror(ctypes.get_errno()), flush=True)
sys.stdin.read()
`
	held := newNotifyWriter("held")
	stdinR, stdinW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := hog.RunCode(t.Context(), "python", hogCode, computemw.ExecOptions{Stdin: stdinR, Stdout: held, Timeout: 30 * time.Second})
		done <- err
	}()
	t.Cleanup(func() {
		stdinW.Close()
		<-done
	})
	select {
	case <-held.found:
	case err := <-done:
		done <- err
		t.Fatalf("the hog ended early: %v, output %q", err, held.String())
	}
	t.Logf("the hog: %s", strings.TrimSpace(held.String()))
	res, err := other.RunCode(t.Context(), "python", "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nfd = libc.inotify_init1(0)\nprint('fd' if fd >= 0 else os.strerror(ctypes.get_errno()))\n", computemw.ExecOptions{Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stdout != "fd\n" {
		t.Errorf("with another sandbox holding its inotify instances, inotify_init1 gives %q", res.Stdout)
	}
}

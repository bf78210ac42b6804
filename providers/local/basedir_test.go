//go:build linux

package local_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// Protection: New verifies BaseDir (basedir.go) instead of trusting what it
// finds: a directory that another user owns, or that others may write to,
// is refused, and left as it was.
func TestBaseDirRefusedUnlessPrivate(t *testing.T) {
	requireBwrap(t)
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, dir string)
		want    string
	}{
		{"mode 0777", func(t *testing.T, dir string) {
			if err := os.Chmod(dir, 0o777); err != nil {
				t.Fatal(err)
			}
		}, "writable"},
		{"mode 0775", func(t *testing.T, dir string) {
			if err := os.Chmod(dir, 0o775); err != nil {
				t.Fatal(err)
			}
		}, "writable"},
		{"owned by another uid", func(t *testing.T, dir string) {
			if os.Geteuid() != 0 {
				t.Skip("only root can give a directory away")
			}
			if err := os.Chown(dir, 12345, 12345); err != nil {
				t.Fatal(err)
			}
		}, "owned by uid 12345"},
		{"a symlink", func(t *testing.T, dir string) {
			real := dir + ".real"
			if err := os.Rename(dir, real); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.RemoveAll(real) })
			if err := os.Symlink(real, dir); err != nil {
				t.Fatal(err)
			}
		}, "symbolic link"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(testBaseDir(t), "base")
			if err := os.Mkdir(dir, 0o711); err != nil {
				t.Fatal(err)
			}
			tc.prepare(t, dir)
			before, _ := os.Lstat(dir)
			parent := cgroupTestRoot + "/" + randHex()
			t.Cleanup(func() { removeCgroupParent(parent) })
			p, err := local.New(local.Config{BaseDir: dir, CgroupParent: parent})
			if err == nil {
				_ = p.Close(t.Context())
				t.Fatalf("New accepted a BaseDir that is %s", tc.name)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			after, _ := os.Lstat(dir)
			if before.Mode() != after.Mode() {
				t.Errorf("New changed the refused BaseDir's mode from %s to %s", before.Mode(), after.Mode())
			}
			if entries, _ := os.ReadDir(dir); len(entries) > 0 {
				t.Errorf("New failed but left %d entries in BaseDir", len(entries))
			}
		})
	}
}

// Protection: reclaim acts only on names the provider makes
// (i-<16 hex>.lock, sb-<16 hex>) and never follows a symlink. Lock files
// named ".lock" or "..lock" would otherwise point the reclaim at the
// cgroup parent (every live sandbox) or at BaseDir's parent.
func TestReclaimIgnoresPlantedNames(t *testing.T) {
	requireBwrap(t)
	base := testBaseDir(t)
	parent := cgroupTestRoot + "/" + randHex()
	var alive *local.Provider
	t.Cleanup(func() {
		if alive != nil {
			checkNoLeaks(t, alive, base, parent)
		}
	})
	alive = startProvider(t, local.Config{BaseDir: base, CgroupParent: parent})
	aliveSB := newSandbox(t, alive, computemw.CreateOptions{})

	outside := t.TempDir()
	keep := filepath.Join(outside, "keep")
	if err := os.WriteFile(keep, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	orphan := "i-00112233445566aa"
	planted := []string{".lock", "..lock", "evil.lock", "i-zz.lock", "I-00112233445566AA.lock", orphan + ".lock"}
	for _, name := range planted {
		if err := os.WriteFile(filepath.Join(base, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(base, "evil"), 0o700); err != nil {
		t.Fatal(err)
	}
	// A well-named orphan whose directory is a symlink out of BaseDir.
	if err := os.Symlink(outside, filepath.Join(base, orphan)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, name := range append(planted, "evil", orphan) {
			_ = os.Remove(filepath.Join(base, name))
		}
	})

	next := startProvider(t, local.Config{BaseDir: base, CgroupParent: parent})

	if b, err := os.ReadFile(keep); err != nil || string(b) != "keep" {
		t.Errorf("the reclaim followed a symlink out of BaseDir: %q %v", b, err)
	}
	for _, name := range []string{".lock", "..lock", "evil.lock", "i-zz.lock", "evil"} {
		if _, err := os.Lstat(filepath.Join(base, name)); err != nil {
			t.Errorf("the reclaim acted on %q, a name the provider never makes: %v", name, err)
		}
	}
	if res := run(t, aliveSB, "echo alive", computemw.ExecOptions{}); res.Stdout != "alive\n" {
		t.Errorf("the live instance's sandbox after the reclaim: %+v", res)
	}
	if res := run(t, newSandbox(t, next, computemw.CreateOptions{}), "echo next", computemw.ExecOptions{}); res.Stdout != "next\n" {
		t.Errorf("the new instance's sandbox: %+v", res)
	}
}

// Protection: bwrap binds the workspace and the generated /etc files
// through descriptors the provider opened (--bind-fd, --ro-bind-fd), and
// the file API works on the workspace's descriptor: an instance directory
// swapped for a symlink to a look-alike does not lead the sandbox, nor the
// server, elsewhere.
func TestWorkspaceSymlinkSwapNotFollowed(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	sb := newSandbox(t, p, computemw.CreateOptions{})
	if err := sb.WriteFile(t.Context(), "mine", []byte("mine")); err != nil {
		t.Fatal(err)
	}
	ws := local.SandboxWorkspace(sb)
	inst := filepath.Dir(ws)
	moved := inst + ".moved"

	// The look-alike: the same names, other content.
	elsewhere := t.TempDir()
	if err := os.Chmod(elsewhere, 0o755); err != nil {
		t.Fatal(err)
	}
	fake := filepath.Join(elsewhere, filepath.Base(ws))
	if err := os.MkdirAll(filepath.Join(elsewhere, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(fake, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(fake, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fake, "secret"), []byte("host secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"passwd", "group", "hosts", "hostname"} {
		if err := os.WriteFile(filepath.Join(elsewhere, "etc", f), []byte("planted\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	if err := os.Rename(inst, moved); err != nil {
		if local.TmpfsWorkspaces(p) && errors.Is(err, syscall.EBUSY) {
			// Where workspaces are tmpfs mounts, the instance directory
			// is a mount point of its own: it cannot be moved away.
			return
		}
		t.Fatal(err)
	}
	if local.TmpfsWorkspaces(p) {
		t.Fatal("the instance directory of a provider with tmpfs workspaces could be moved")
	}
	if err := os.Symlink(elsewhere, inst); err != nil {
		t.Fatal(err)
	}
	restore := func() {
		if fi, err := os.Lstat(inst); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			_ = os.Remove(inst)
			_ = os.Rename(moved, inst)
		}
	}
	t.Cleanup(restore)

	res, err := sb.Exec(t.Context(), "cat secret; cat mine; echo; cat /etc/hostname", computemw.ExecOptions{})
	if err == nil && (strings.Contains(res.Stdout, "host secret") || strings.Contains(res.Stdout, "planted")) {
		t.Errorf("the sandbox followed the swapped path: %q", res.Stdout)
	}
	if err == nil && !strings.Contains(res.Stdout, "mine") {
		t.Errorf("the sandbox does not see its own workspace: %q %q", res.Stdout, res.Stderr)
	}
	if b, err := sb.ReadFile(t.Context(), "secret"); err == nil {
		t.Errorf("the file API followed the swapped path: %q", b)
	}
	if err := sb.WriteFile(t.Context(), "new", []byte("x")); err != nil {
		t.Errorf("WriteFile after the swap: %v", err)
	}
	if _, err := os.Stat(filepath.Join(fake, "new")); err == nil {
		t.Error("WriteFile wrote into the look-alike")
	}
	restore()
}

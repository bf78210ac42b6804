package exampletest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// DelegateCgroup does as root what an administrator does for a server run
// by the user uid: it makes a cgroup subtree the user may write (on cgroup
// v2 one directory, with the memory, pids and cpu controllers handed down;
// on v1 the same path in each controller's hierarchy) and returns its path
// relative to the hierarchy's root, for COMPUTEMW_CGROUP_PARENT. The
// subtree, and what was made under it, is removed at cleanup.
func DelegateCgroup(t *testing.T, uid int) string {
	t.Helper()
	const root = "/sys/fs/cgroup"
	b := make([]byte, 6)
	rand.Read(b)
	name := "computemw-delegated-" + hex.EncodeToString(b)
	var dirs []string
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err == nil {
		// v2: the controllers must be enabled in the parent to be
		// delegated; the files a delegate writes are chowned to it.
		_ = os.WriteFile(filepath.Join(root, "cgroup.subtree_control"), []byte("+memory +pids +cpu"), 0)
		dirs = []string{filepath.Join(root, name)}
	} else {
		for _, c := range []string{"memory", "pids", "cpu", "cpuacct", "cpu,cpuacct", "freezer"} {
			if fi, err := os.Lstat(filepath.Join(root, c)); err == nil && fi.IsDir() {
				dirs = append(dirs, filepath.Join(root, c, name))
			}
		}
	}
	for _, d := range dirs {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatalf("delegating a cgroup: %v", err)
		}
		t.Cleanup(func() { removeCgroup(t, d) })
		if err := filepath.WalkDir(d, func(p string, _ fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p != d && strings.HasPrefix(filepath.Base(p), "cgroup.") && !slices.Contains([]string{"cgroup.procs", "cgroup.subtree_control", "cgroup.threads"}, filepath.Base(p)) {
				return nil
			}
			return os.Chown(p, uid, uid)
		}); err != nil {
			t.Fatalf("delegating a cgroup: %v", err)
		}
	}
	return name
}

// removeCgroup removes a cgroup directory and the groups under it,
// deepest first (a cgroup directory is removed with rmdir alone).
func removeCgroup(t *testing.T, dir string) {
	var sub []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			sub = append(sub, p)
		}
		return nil
	})
	slices.Reverse(sub)
	var errs []error
	for _, d := range sub {
		if err := os.Remove(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		t.Errorf("removing the delegated cgroup: %v", err)
	}
}

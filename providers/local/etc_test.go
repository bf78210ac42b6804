//go:build linux

package local_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// A provider running as root binds a sandbox's /etc in one mount: the
// host's entries and the generated files, read-only, none of it mounted
// in the server's own namespace; a host entry replaced by another file (a
// package manager renames one into place) is what the next sandbox sees.
func TestEtcStagedInOneMount(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "computemw-probe.conf")
	sub := filepath.Join(dir, "computemw-probe.d")
	if err := os.WriteFile(conf, []byte("one\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "a"), []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	absent := filepath.Join(dir, "computemw-absent")
	restore := local.SetEtcFiles([]string{conf, sub, absent})
	defer restore()
	p := newTestProvider(t, local.Config{})
	if !local.EtcStaged(p) {
		if local.TmpfsWorkspaces(p) {
			t.Fatal("a provider with workspace namespaces does not stage /etc")
		}
		t.Skip("/etc is staged where workspaces have mount namespaces of their own (root)")
	}

	sb := newSandbox(t, p, computemw.CreateOptions{})
	res := run(t, sb, `cat /etc/computemw-probe.conf /etc/computemw-probe.d/a /etc/hostname
test -e /etc/computemw-absent && echo absent-is-there
for f in /etc/computemw-probe.conf /etc/computemw-probe.d/new /etc/new /etc/passwd; do (echo x > $f) 2>/dev/null && echo wrote $f; done
grep -c ' /etc' /proc/self/mountinfo`, computemw.ExecOptions{})
	// /etc itself, the two host entries; the generated files are in it.
	if want := "one\na\nsandbox\n3\n"; res.Stdout != want {
		t.Errorf("the sandbox's /etc: got %q, want %q (stderr %q)", res.Stdout, want, res.Stderr)
	}
	if b, err := os.ReadFile("/proc/self/mountinfo"); err != nil || strings.Contains(string(b), "computemw-probe") {
		t.Errorf("the server's mount table has the staged entries (%v):\n%s", err, b)
	}

	if err := os.WriteFile(conf+".new", []byte("two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(conf+".new", conf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "b"), []byte("b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(absent, []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	next := newSandbox(t, p, computemw.CreateOptions{})
	if res := run(t, next, "cat /etc/computemw-probe.conf /etc/computemw-probe.d/b /etc/computemw-absent", computemw.ExecOptions{}); res.Stdout != "two\nb\nnew\n" {
		t.Errorf("after the host replaced an entry and added one, a new sandbox reads %q, want %q (stderr %q)", res.Stdout, "two\nb\nnew\n", res.Stderr)
	}

	// An entry gone from the host is gone from the next sandbox.
	if err := os.Remove(absent); err != nil {
		t.Fatal(err)
	}
	last := newSandbox(t, p, computemw.CreateOptions{})
	if res := run(t, last, "test -e /etc/computemw-absent && echo there; cat /etc/computemw-probe.conf", computemw.ExecOptions{}); res.Stdout != "two\n" {
		t.Errorf("after the host removed an entry, a new sandbox reads %q, want %q (stderr %q)", res.Stdout, "two\n", res.Stderr)
	}
}

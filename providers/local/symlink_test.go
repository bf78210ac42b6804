//go:build linux

package local_test

import (
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// Symlinks planted by sandboxed code never lead the host-side file API out
// of the workspace: reading, writing, listing or removing through them is
// a BAD_REQUEST, and the targets are untouched.
func TestFilesSymlinkEscapes(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	sb := newSandbox(t, p, computemw.CreateOptions{})
	ctx := t.Context()
	res := run(t, sb, "ln -s /etc/passwd leak && ln -s / root && ln -s ../../.. up && ln -s /tmp/x dangling && mkdir d && ln -s inner.txt d/rel && echo in > d/inner.txt", computemw.ExecOptions{})
	if res.ExitCode != 0 {
		t.Fatalf("setup: %d %s", res.ExitCode, res.Stderr)
	}
	for _, path := range []string{"leak", "root/etc/passwd", "up/etc/hostname", "/workspace/root/etc/passwd"} {
		if _, err := sb.ReadFile(ctx, path); !isCode(err, computemw.CodeBadRequest) {
			t.Errorf("ReadFile(%q): %v", path, err)
		}
	}
	for _, path := range []string{"leak", "root/tmp/pwned", "dangling"} {
		if err := sb.WriteFile(ctx, path, []byte("x")); !isCode(err, computemw.CodeBadRequest) {
			t.Errorf("WriteFile(%q): %v", path, err)
		}
	}
	if _, err := sb.ListFiles(ctx, "root"); !isCode(err, computemw.CodeBadRequest) {
		t.Errorf("ListFiles(root): %v", err)
	}
	if err := sb.Mkdir(ctx, "root/tmp/newdir"); !isCode(err, computemw.CodeBadRequest) {
		t.Errorf("Mkdir through a symlink: %v", err)
	}
	if err := sb.Remove(ctx, "root/etc"); !isCode(err, computemw.CodeBadRequest) {
		t.Errorf("Remove through a symlink: %v", err)
	}
	// A symlink inside the workspace still works, and removing a link
	// removes the link, not its target.
	if b, err := sb.ReadFile(ctx, "d/rel"); err != nil || string(b) != "in\n" {
		t.Errorf("in-workspace symlink: %q %v", b, err)
	}
	if err := sb.Remove(ctx, "leak"); err != nil {
		t.Errorf("Remove(leak): %v", err)
	}
	if fi, err := sb.Stat(ctx, "root"); err != nil || fi.Type != "symlink" {
		t.Errorf("Stat(root): %+v %v", fi, err)
	}
}

func isCode(err error, code computemw.Code) bool {
	return err != nil && computemw.AsError(err).Code == code
}

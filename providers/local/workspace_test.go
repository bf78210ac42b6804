//go:build linux

package local_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/providers/local"
)

// A sandbox that writes without end fills its own workspace, not the
// host's disk: past WorkspaceSizeMB the program gets ENOSPC, and the file
// API answers RESOURCE_ERROR.
func TestWorkspaceSizeCap(t *testing.T) {
	p := newTestProvider(t, local.Config{WorkspaceSizeMB: 8})
	computemwtest.Require(t, local.TmpfsWorkspaces(p), "workspaces are tmpfs mounts only when the server may mount (root)")
	sb := newSandbox(t, p, computemw.CreateOptions{})
	res := run(t, sb, "head -c 12000000 /dev/zero > big; echo status=$?", computemw.ExecOptions{})
	if !strings.Contains(res.Stdout, "status=1") || !strings.Contains(res.Stderr, "No space left") {
		t.Errorf("writing past the cap: %q %q", res.Stdout, res.Stderr)
	}
	run(t, sb, "rm -f big", computemw.ExecOptions{})
	err := sb.WriteFile(t.Context(), "big", bytes.Repeat([]byte("x"), 12<<20))
	if !isCode(err, computemw.CodeResource) {
		t.Errorf("WriteFile past the cap: %v", err)
	}
	// Under the cap everything works, and the host sees the files.
	if err := sb.WriteFile(t.Context(), "small", []byte("fits")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(local.SandboxWorkspaceFiles(sb) + "/small"); err != nil || string(b) != "fits" {
		t.Errorf("host view: %q %v", b, err)
	}
}

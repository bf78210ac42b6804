//go:build linux

package local_test

import (
	"strings"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// A sandbox's environment is for its own processes only: the loader
// variables a client may set (LD_PRELOAD would run its code on the host)
// never reach bwrap, which the host's loader starts before any namespace
// exists. LD_DEBUG is the probe: had the host's loader seen it, it would
// report the libraries it loads for bwrap on the program's stderr.
func TestEnvDoesNotReachBwrap(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	sb := newSandbox(t, p, computemw.CreateOptions{Env: map[string]string{"LD_LIBRARY_PATH": "/nonexistent"}})
	res := run(t, sb, "echo $LD_PRELOAD; echo $LD_LIBRARY_PATH", computemw.ExecOptions{
		Env: map[string]string{"LD_PRELOAD": "/workspace/missing-probe.so", "LD_DEBUG": "files"},
	})
	if strings.Contains(res.Stderr, "bwrap") {
		t.Fatalf("the host-side bwrap ran with the sandbox's environment: %q", res.Stderr)
	}
	// Inside, the variables are there as the client set them (the
	// sandbox's own loader may warn about the missing library).
	if !strings.Contains(res.Stdout, "/workspace/missing-probe.so\n/nonexistent\n") {
		t.Errorf("sandbox env: %q (stderr %q)", res.Stdout, res.Stderr)
	}
}

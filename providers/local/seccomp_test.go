//go:build linux

package local_test

import (
	"strings"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// The system-call filter refuses the kernel interfaces sandboxes have no
// use for (EPERM) and leaves ordinary programs alone (every other test
// runs under it). The guard against other ABIs cannot be exercised on a
// kernel without 32-bit emulation, such as this project's CI machines.
func TestSeccompFilter(t *testing.T) {
	const probe = `
import ctypes, errno
libc = ctypes.CDLL(None, use_errno=True)
for name, nr in [("keyctl", 250), ("io_uring_setup", 425), ("bpf", 321), ("perf_event_open", 298), ("userfaultfd", 323)]:
    ctypes.set_errno(0)
    r = libc.syscall(nr, 0, 0, 0, 0, 0)
    print(name, r, errno.errorcode.get(ctypes.get_errno(), ctypes.get_errno()))
`
	for _, c := range []struct {
		name    string
		disable bool
		want    string
	}{
		{"on", false, "EPERM"},
		{"off", true, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := newTestProvider(t, local.Config{DisableSeccomp: c.disable})
			sb := newSandbox(t, p, computemw.CreateOptions{})
			res, err := sb.RunCode(t.Context(), "python", probe, computemw.ExecOptions{})
			if err != nil || res.ExitCode != 0 {
				t.Fatalf("probe: %v %+v", err, res)
			}
			lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
			if len(lines) != 5 {
				t.Fatalf("probe output %q", res.Stdout)
			}
			for _, l := range lines {
				f := strings.Fields(l)
				if c.want != "" && f[2] != c.want {
					t.Errorf("with the filter: %s", l)
				}
				// Without the filter the kernel answers these for itself
				// (EINVAL, EFAULT ...): the probe can tell the difference.
				if c.want == "" && (f[0] == "keyctl" || f[0] == "io_uring_setup") && f[2] == "EPERM" {
					t.Errorf("without the filter: %s", l)
				}
			}
		})
	}
}

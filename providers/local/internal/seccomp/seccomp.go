//go:build linux

// Package seccomp holds the system-call filter every sandbox runs under:
// the calls it denies, compiled for bwrap's --seccomp.
package seccomp

import (
	"encoding/binary"
	"fmt"

	bpfseccomp "github.com/elastic/go-seccomp-bpf"
	"golang.org/x/net/bpf"
)

// Denied fail with EPERM in every sandbox. Namespaces and dropped
// capabilities already refuse most of them; the filter closes the kernel
// attack surface that an unprivileged process can still reach (keyrings,
// POSIX message queues, io_uring, eBPF, perf events, userfaultfd, handle-based opens, the mount
// APIs) whatever a future kernel allows in a user namespace.
var Denied = []string{
	"add_key", "keyctl", "request_key",
	// POSIX message queues outlive their processes in the sandbox's IPC
	// namespace, which a recycled sandbox keeps: none is made.
	"mq_open",
	"bpf", "perf_event_open", "userfaultfd",
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	"open_by_handle_at", "name_to_handle_at",
	"mount", "umount2", "pivot_root", "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick",
	"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
	"swapon", "swapoff", "reboot", "acct", "quotactl", "syslog",
	"lookup_dcookie", "iopl", "ioperm",
}

// Program compiles the filter into the raw sock_filter array that
// bwrap's --seccomp reads. System calls of another architecture (the
// 32-bit x86 ABI on a 64-bit kernel, say) kill the process: a deny list
// is only as good as the ABI it names numbers for.
func Program() ([]byte, error) {
	policy := bpfseccomp.Policy{
		DefaultAction: bpfseccomp.ActionAllow,
		Syscalls: []bpfseccomp.SyscallGroup{{
			Names:  Denied,
			Action: bpfseccomp.ActionErrno | 1, // EPERM
		}},
	}
	insns, err := policy.Assemble()
	if err != nil {
		return nil, fmt.Errorf("seccomp filter: %w", err)
	}
	// insns starts by loading the architecture and jumping to the default
	// action on a mismatch; refuse other architectures before that.
	first, ok := insns[1].(bpf.JumpIf)
	if !ok {
		return nil, fmt.Errorf("seccomp filter: unexpected program shape")
	}
	guard := []bpf.Instruction{
		bpf.LoadAbsolute{Off: 4, Size: 4}, // seccomp_data.arch
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: first.Val, SkipTrue: 1},
		bpf.RetConstant{Val: uint32(bpfseccomp.ActionKillProcess)},
	}
	raw, err := bpf.Assemble(append(guard, insns...))
	if err != nil {
		return nil, fmt.Errorf("seccomp filter: %w", err)
	}
	out := make([]byte, 0, 8*len(raw))
	for _, r := range raw {
		out = binary.NativeEndian.AppendUint16(out, r.Op)
		out = append(out, r.Jt, r.Jf)
		out = binary.NativeEndian.AppendUint32(out, r.K)
	}
	return out, nil
}

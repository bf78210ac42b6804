//go:build linux && (386 || arm)

package local

import "golang.org/x/sys/unix"

// The system calls that set a thread's 32-bit uids and gids (the
// unsuffixed ones take 16-bit ids on these architectures).
const (
	sysSetresuid = unix.SYS_SETRESUID32
	sysSetresgid = unix.SYS_SETRESGID32
)

//go:build linux && !386 && !arm

package local

import "golang.org/x/sys/unix"

// The system calls that set a thread's 32-bit uids and gids.
const (
	sysSetresuid = unix.SYS_SETRESUID
	sysSetresgid = unix.SYS_SETRESGID
)

//go:build linux

package local

import (
	"math"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// closeInheritedFDs marks every descriptor of this process above stderr
// close-on-exec. Go opens its own descriptors that way already; this catches
// ones inherited from the server's parent or opened by C code, so that no
// host descriptor can reach a sandbox through exec.
func closeInheritedFDs() {
	// One system call where the kernel has it (5.11 and later).
	if unix.CloseRange(3, math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC) == nil {
		return
	}
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return
	}
	self := int(d.Fd())
	for _, n := range names {
		fd, err := strconv.Atoi(n)
		if err != nil || fd <= 2 || fd == self {
			continue
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC != 0 {
			continue
		}
		_, _ = unix.FcntlInt(uintptr(fd), unix.F_SETFD, flags|unix.FD_CLOEXEC)
	}
}

// childPipe makes a pipe one end of which a child process gets (its read
// end when childReads). That end stays blocking and out of the runtime's
// poller: os.Pipe registers both ends with the poller and makes them
// non-blocking, and passing an end on to a child takes it out again, six
// system calls per end on the path of every execution. The server's end
// is pollable, as os.Pipe's are (deadlines, reads that park goroutines).
func childPipe(childReads bool) (server, child *os.File, err error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, nil, os.NewSyscallError("pipe2", err)
	}
	s, c := p[1], p[0]
	if !childReads {
		s, c = p[0], p[1]
	}
	if err := unix.SetNonblock(s, true); err != nil {
		unix.Close(s)
		unix.Close(c)
		return nil, nil, os.NewSyscallError("fcntl", err)
	}
	return os.NewFile(uintptr(s), "|server"), os.NewFile(uintptr(c), "|child"), nil
}

// openDevNull opens /dev/null for reading, for a child's standard input,
// without the poller registration os.Open attempts.
func openDevNull() (*os.File, error) {
	fd, err := unix.Open(os.DevNull, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: os.DevNull, Err: err}
	}
	return os.NewFile(uintptr(fd), os.DevNull), nil
}

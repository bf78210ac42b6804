//go:build linux

package cgroups

import (
	"sync"

	"golang.org/x/sys/unix"
)

// The counter files of a v1 group that every execution reads, and the
// files a recycled sandbox's reset reads.
const (
	cPeak  = iota // memory.max_usage_in_bytes, also reset
	cOOM          // memory.oom_control
	cPids         // pids.events
	cCPU          // cpuacct.usage
	cUsage        // memory.usage_in_bytes
	cProcs        // cgroup.procs
	numCounters
)

// counterFiles keeps a group's counter files open once read: an execution
// in a session reads four before it starts and four after it ends, and
// each read of a closed one is an open (a walk of the cgroup path), two
// reads and a close, where an open one is a single pread from offset 0,
// from which the kernel produces the file afresh. They are closed before
// the group is removed.
type counterFiles struct {
	mu     sync.RWMutex
	fds    [numCounters]int // descriptor + 1; 0: not open
	closed bool
}

// read returns the content of counter i (at path), or nil.
func (cf *counterFiles) read(i int, path string) []byte {
	if b, ok := cf.pread(i); ok {
		return b
	}
	if cf.open(i, path) < 0 {
		b, _ := readFile(path)
		return b
	}
	b, _ := cf.pread(i)
	return b
}

// readWhole returns the content of file i (at path) and true when it
// read whole, in one read of the buffer, else false.
func (cf *counterFiles) readWhole(i int, path string) ([]byte, bool) {
	if cf.open(i, path) < 0 {
		return nil, false
	}
	b, _ := cf.pread(i)
	return b, b != nil && len(b) < counterBuf
}

// counterBuf is the buffer a counter file is read into.
const counterBuf = 512

// pread reads counter i from offset 0 if it is open (ok), nil on an error.
func (cf *counterFiles) pread(i int) (b []byte, ok bool) {
	cf.mu.RLock()
	defer cf.mu.RUnlock()
	fd := cf.fds[i] - 1
	if fd < 0 {
		return nil, false
	}
	buf := make([]byte, counterBuf)
	n, err := unix.Pread(fd, buf, 0)
	for err == unix.EINTR {
		n, err = unix.Pread(fd, buf, 0)
	}
	if err != nil {
		return nil, true
	}
	return buf[:n], true
}

// write writes data to counter i (at path) from offset 0.
func (cf *counterFiles) write(i int, path string, data []byte) {
	cf.mu.RLock()
	if fd := cf.fds[i] - 1; fd >= 0 {
		_, err := unix.Pwrite(fd, data, 0)
		for err == unix.EINTR {
			_, err = unix.Pwrite(fd, data, 0)
		}
		cf.mu.RUnlock()
		return
	}
	cf.mu.RUnlock()
	_ = writeFile(path, data)
}

// open opens counter i, read-write for the one that is also reset, and
// returns its descriptor, or -1 when it cannot (or the files are closed).
func (cf *counterFiles) open(i int, path string) int {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	if cf.closed {
		return -1
	}
	if fd := cf.fds[i] - 1; fd >= 0 {
		return fd
	}
	mode := unix.O_RDONLY
	if i == cPeak {
		mode = unix.O_RDWR
	}
	fd, err := unix.Open(path, mode|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	cf.fds[i] = fd + 1
	return fd
}

// close closes the open counter files; reads and writes after it open
// the files by path.
func (cf *counterFiles) close() {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	for i, fd := range cf.fds {
		if fd > 0 {
			_ = unix.Close(fd - 1)
		}
		cf.fds[i] = 0
	}
	cf.closed = true
}

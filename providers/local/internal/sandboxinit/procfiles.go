//go:build linux

package sandboxinit

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// procFile is a /proc file the init reads at every reset, kept open from
// its start: a read is then one pread from offset 0, from which the
// kernel produces the file afresh, where a read by path walks /proc,
// opens, reads twice and closes. The init's descriptors are closed on
// exec and unreachable from its programs (/proc/1 is not theirs).
type procFile struct {
	path string
	fd   int // -1: not open
	err  error
}

// openProcFile opens path for reading; a file that does not exist is
// remembered as such.
func openProcFile(path string) *procFile {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &procFile{path: path, fd: -1, err: &os.PathError{Op: "open", Path: path, Err: err}}
	}
	return &procFile{path: path, fd: fd}
}

// missing reports whether the file did not exist when the init started.
func (f *procFile) missing() bool { return f.fd < 0 && errors.Is(f.err, os.ErrNotExist) }

// read returns the file's first len(buf) bytes, read afresh.
func (f *procFile) read(buf []byte) ([]byte, error) {
	if f.fd < 0 {
		return nil, f.err
	}
	for {
		n, err := unix.Pread(f.fd, buf, 0)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return nil, fmt.Errorf("read %s: %w", f.path, err)
		}
		return buf[:n], nil
	}
}

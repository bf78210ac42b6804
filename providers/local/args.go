//go:build linux

package local

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// argsFile returns a descriptor holding bwrap's options for --args:
// NUL-separated, as bwrap reads them. It is the one writer of that list,
// and it refuses any argument that contains NUL, whatever its caller
// checked: such an argument would end early and its rest would be read as
// an option of its own ("x\x00--share-net").
func argsFile(args []string) (*os.File, error) {
	size := 0
	for i, a := range args {
		if strings.IndexByte(a, 0) >= 0 {
			return nil, fmt.Errorf("local: bwrap argument %d contains a NUL byte", i)
		}
		size += len(a) + 1
	}
	buf := make([]byte, 0, size)
	for _, a := range args {
		buf = append(buf, a...)
		buf = append(buf, 0)
	}
	return dataFile("computemw-args", buf)
}

// dataFile returns a descriptor of a sealed in-memory file holding data,
// positioned at its start. Unlike a pipe, it holds any amount of data
// without a reader, so writing it never waits for bwrap; the seals keep
// anyone holding the descriptor from changing it.
func dataFile(name string, data []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("local: memfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), name)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, fmt.Errorf("local: memfd: %w", err)
	}
	seals := unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE | unix.F_SEAL_SEAL
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, fmt.Errorf("local: memfd seal: %w", err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("local: memfd: %w", err)
	}
	return f, nil
}

// openPath opens a path-only descriptor (O_PATH) of a file or directory,
// without following a final symlink.
func openPath(path string) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

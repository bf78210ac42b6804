//go:build linux

package local

import (
	"context"
	"errors"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// The file API reaches the workspace only through the descriptor opened
// when it was made (sandbox.wsFile), one of two ways:
//
//   - Creating (Mkdir, WriteFile) walks the path one component at a time:
//     each step is an openat (and, for a missing directory, a mkdirat) on
//     the previous component's descriptor with O_NOFOLLOW|O_DIRECTORY.
//     The walk costs a few system calls per component, never leaves the
//     workspace (a symlink on the way is refused), and checks ctx between
//     components.
//   - Reading (ReadFile, OpenFile) opens the path with one openat2 from
//     the workspace's descriptor, RESOLVE_BENEATH: the kernel resolves it,
//     following symlinks that stay inside the workspace and refusing any
//     that leads out.
//
// Paths are capped (rel) before either starts.

// errSymlinkInPath: a directory on the way is a symbolic link.
var errSymlinkInPath = errors.New("a directory of the path is a symbolic link")

// workspaceFD returns a new descriptor of the workspace, which the caller
// closes. It fails with os.ErrClosed once the sandbox is destroyed.
func (s *sandbox) workspaceFD() (int, error) {
	rc, err := s.wsFile.SyscallConn()
	if err != nil {
		return -1, os.ErrClosed
	}
	fd := -1
	var openErr error
	if err := rc.Control(func(ws uintptr) {
		fd, openErr = unix.Openat(int(ws), ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	}); err != nil {
		return -1, os.ErrClosed
	}
	s.walkOps.Add(1)
	return fd, openErr
}

// walkDirs opens the directory at dirs (components relative to the
// workspace), creating the missing ones when create is set; the caller
// closes the descriptor.
func (s *sandbox) walkDirs(ctx context.Context, dirs []string, create bool) (int, error) {
	cur, err := s.workspaceFD()
	if err != nil {
		return -1, err
	}
	for _, name := range dirs {
		if err := ctx.Err(); err != nil {
			unix.Close(cur)
			return -1, err
		}
		next, err := s.stepDir(cur, name, create)
		unix.Close(cur)
		if err != nil {
			return -1, err
		}
		cur = next
	}
	return cur, nil
}

// stepDir opens (and, if create, first makes) the directory name in dir.
func (s *sandbox) stepDir(dir int, name string, create bool) (int, error) {
	const flags = unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	s.walkOps.Add(1)
	fd, err := unix.Openat(dir, name, flags, 0)
	if errors.Is(err, unix.ENOENT) && create {
		s.walkOps.Add(1)
		err = unix.Mkdirat(dir, name, 0o755)
		if err == nil {
			if err := s.ownAt(dir, name); err != nil {
				return -1, err
			}
		} else if !errors.Is(err, unix.EEXIST) {
			return -1, err
		}
		s.walkOps.Add(1)
		fd, err = unix.Openat(dir, name, flags, 0)
	}
	if errors.Is(err, unix.ENOTDIR) {
		var st unix.Stat_t
		if unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return -1, errSymlinkInPath
		}
	}
	return fd, err
}

// ownAt gives a host-created file to the sandbox's host uid, so that
// sandboxed code can change it.
func (s *sandbox) ownAt(dir int, name string) error {
	if !s.chown {
		return nil
	}
	s.walkOps.Add(1)
	return unix.Fchownat(dir, name, s.uid, s.gid, unix.AT_SYMLINK_NOFOLLOW)
}

// openBeneath opens rel for reading, resolved by the kernel beneath the
// workspace. Opens are non-blocking, so a FIFO planted by sandboxed code
// cannot stall the server.
func (s *sandbox) openBeneath(ctx context.Context, rel string) (*os.File, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ws, err := s.workspaceFD()
	if err != nil {
		return nil, err
	}
	defer unix.Close(ws)
	s.walkOps.Add(1)
	fd, err := unix.Openat2(ws, rel, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
	})
	if errors.Is(err, unix.ENOSYS) {
		// Kernels before 5.6: os.Root resolves with the same guarantee.
		return s.root.OpenFile(rel, os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: rel, Err: err}
	}
	return os.NewFile(uintptr(fd), rel), nil
}

// splitRel splits a clean relative path into its parent's components and
// its last one.
func splitRel(rel string) (dirs []string, last string) {
	parts := strings.Split(rel, "/")
	return parts[:len(parts)-1], parts[len(parts)-1]
}

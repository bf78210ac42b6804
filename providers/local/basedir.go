//go:build linux

package local

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// BaseDir is trusted with the workspaces of every sandbox and with the
// lock files that orphan reclaim acts on, so New verifies it instead of
// trusting what it finds: a directory that another user created first, or
// may write to, could plant lock files and instance directories, or swap
// a workspace for a symlink.
//
// BaseDir must be a real directory (not a symlink), owned by the server's
// uid, with no group or other write permission; each of its ancestors must
// be owned by root or the server's uid and writable by nobody else unless
// sticky (as /tmp), so that nobody else can rename BaseDir away either.
// When sandboxes run as other host uids (a root server), they must be able
// to search it (mode 0711) to reach their own workspace, but never list
// or write it.

// dirModes are the modes of the provider's directories: search-only for
// others when sandboxes run as other uids, private otherwise.
func dirMode(otherUIDs bool) os.FileMode {
	if otherUIDs {
		return 0o711
	}
	return 0o700
}

// instanceMode is the mode of an instance directory.
func instanceMode(otherUIDs bool) os.FileMode { return dirMode(otherUIDs) }

// prepareBaseDir creates BaseDir if it is missing and verifies it.
func prepareBaseDir(dir string, otherUIDs bool) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("local: base dir: %w", err)
	}
	if err := os.Mkdir(abs, dirMode(otherUIDs)); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
			return fmt.Errorf("local: base dir: %w", err)
		}
		err = os.Mkdir(abs, dirMode(otherUIDs))
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("local: base dir: %w", err)
		}
	} else if err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("local: base dir: %w", err)
	}
	if err := verifyBaseDir(abs); err != nil {
		return err
	}
	if otherUIDs {
		// Ours and closed to writes: opening it to searches (for the
		// sandboxes' uids to reach their workspace) gives nothing away.
		fi, err := os.Lstat(abs)
		if err != nil {
			return fmt.Errorf("local: base dir: %w", err)
		}
		if perm := fi.Mode().Perm(); perm&0o011 != 0o011 {
			if err := os.Chmod(abs, perm|0o011); err != nil {
				return fmt.Errorf("local: base dir: %w", err)
			}
		}
	}
	return nil
}

// verifyBaseDir checks that dir, and every directory above it, can be
// changed by nobody but this server's uid (and root).
func verifyBaseDir(dir string) error {
	euid := os.Geteuid()
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("local: base dir: %w", err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("local: base dir %s is a symbolic link; set BaseDir to the real path", dir)
	}
	if !fi.IsDir() {
		return fmt.Errorf("local: base dir %s is not a directory", dir)
	}
	if uid := ownerOf(fi); uid != euid {
		return fmt.Errorf("local: base dir %s is owned by uid %d, not by this server's uid %d: refusing to trust a directory another user made; remove it or choose another BaseDir", dir, uid, euid)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("local: base dir %s is writable by group or others (mode %s): refusing to trust it; chmod it to 0700 (0711 for a root server) or choose another BaseDir", dir, perm)
	}
	parent, err := filepath.EvalSymlinks(filepath.Dir(dir))
	if err != nil {
		return fmt.Errorf("local: base dir: %w", err)
	}
	for d := parent; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("local: base dir: %w", err)
		}
		uid := ownerOf(fi)
		if uid != 0 && uid != euid {
			return fmt.Errorf("local: base dir %s: its parent %s is owned by uid %d, who could replace it; choose another BaseDir", dir, d, uid)
		}
		if fi.Mode().Perm()&0o022 != 0 && fi.Mode()&fs.ModeSticky == 0 {
			return fmt.Errorf("local: base dir %s: its parent %s is writable by other users (mode %s), who could replace it; choose another BaseDir", dir, d, fi.Mode().Perm())
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// ownerOf is a file's owner uid (-1 when unknown).
func ownerOf(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}

// checkSearchable verifies that uid:gid (with no supplementary groups, as
// sandboxes run) can search every directory from / down to dir. bwrap runs
// as that uid and binds workspaces below dir: a directory it cannot search
// would make every execution fail inside bwrap, after start.
func checkSearchable(dir string, uid, gid int) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("local: base dir: %w", err)
	}
	for d := abs; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("local: base dir: %w", err)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			bit := os.FileMode(0o001)
			if int(st.Uid) == uid {
				bit = 0o100
			} else if int(st.Gid) == gid {
				bit = 0o010
			}
			if fi.Mode().Perm()&bit == 0 {
				return fmt.Errorf("local: base dir %s: the sandboxes' uid %d cannot search %s (mode %s); make it searchable (chmod o+x) or choose another BaseDir", dir, uid, d, fi.Mode().Perm())
			}
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// lockInstance takes an exclusive flock that marks the instance as alive.
func lockInstance(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("local: instance lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("local: instance lock: %w", err)
	}
	return f, nil
}

//go:build linux

package local

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/computemw/kit/computemw"
)

// A root server runs each live sandbox as a host uid of its own, leased
// from Config.UIDRange: a lock file per uid in BaseDir/uids, held (flock)
// for the sandbox's lifetime, so that providers sharing BaseDir never
// lease one uid twice, and a crashed server's leases end with it. Nothing
// a sandbox owns outlives it (its workspace is removed; /tmp, IPC objects
// and message queues live in its namespaces), so a uid is clean to reuse.

// uidsDir is the directory of the uid leases under BaseDir.
const uidsDir = "uids"

// uidPool leases host uids from a range.
type uidPool struct {
	dir          string
	first, count int
}

// uidLease is one leased uid.
type uidLease struct {
	uid  int
	lock *os.File
}

// newUIDPool checks the range against the host's users and subordinate
// ranges, and prepares the lease directory.
func newUIDPool(baseDir string, r UIDRange) (*uidPool, error) {
	if r.First <= 0 || r.Count <= 0 || r.First+r.Count-1 > 1<<31-2 {
		return nil, fmt.Errorf("local: UIDRange %d+%d is not a range of valid uids", r.First, r.Count)
	}
	if err := checkUIDRangeFree(r); err != nil {
		return nil, err
	}
	return &uidPool{dir: filepath.Join(baseDir, uidsDir), first: r.First, count: r.Count}, nil
}

// checkUIDRangeFree refuses a range that holds a user of /etc/passwd or a
// group of /etc/group, or overlaps a subordinate range (rootless
// containers run as those).
func checkUIDRangeFree(r UIDRange) error {
	last := r.First + r.Count - 1
	in := func(id int) bool { return id >= r.First && id <= last }
	for _, file := range []string{"/etc/passwd", "/etc/group"} {
		for _, fields := range colonFile(file) {
			if len(fields) > 2 {
				if id, err := strconv.Atoi(fields[2]); err == nil && in(id) {
					return fmt.Errorf("local: UIDRange %d-%d holds id %d of %s (%s): sandboxes would run as it; choose another range", r.First, last, id, fields[0], file)
				}
			}
		}
	}
	for _, file := range []string{"/etc/subuid", "/etc/subgid"} {
		for _, fields := range colonFile(file) {
			if len(fields) < 3 {
				continue
			}
			start, err1 := strconv.Atoi(fields[1])
			n, err2 := strconv.Atoi(fields[2])
			if err1 == nil && err2 == nil && start <= last && start+n-1 >= r.First {
				return fmt.Errorf("local: UIDRange %d-%d overlaps the subordinate ids %d-%d of %s in %s; choose another range", r.First, last, start, start+n-1, fields[0], file)
			}
		}
	}
	return nil
}

// colonFile reads the colon-separated lines of a file (none if missing).
func colonFile(path string) [][]string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, strings.Split(line, ":"))
		}
	}
	return out
}

// acquire leases a free uid, starting from a random one.
func (u *uidPool) acquire() (*uidLease, error) {
	if err := os.Mkdir(u.dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("local: uid leases: %w", err)
	}
	start := rand.IntN(u.count)
	for i := range u.count {
		uid := u.first + (start+i)%u.count
		lock, err := u.tryLock(uid)
		if err != nil {
			return nil, err
		}
		if lock != nil {
			return &uidLease{uid: uid, lock: lock}, nil
		}
	}
	return nil, &computemw.Error{Code: computemw.CodeUnavailable, Message: fmt.Sprintf("all %d sandbox uids are in use", u.count)}
}

// tryLock takes the lease of uid, or returns nil when another holds it.
// A lease file is removed by its holder when released: after locking, the
// path must still name the locked file, or the lease was released (and
// its file removed) meanwhile, and the lock is worth nothing.
func (u *uidPool) tryLock(uid int) (*os.File, error) {
	path := filepath.Join(u.dir, strconv.Itoa(uid))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, nil // not a lease file: skip the uid
		}
		return nil, fmt.Errorf("local: uid lease: %w", err)
	}
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		f.Close()
		return nil, nil
	}
	held, err1 := f.Stat()
	named, err2 := os.Lstat(path)
	if err1 != nil || err2 != nil || !os.SameFile(held, named) {
		f.Close()
		return nil, nil
	}
	return f, nil
}

// release ends a lease: its file is removed while still locked.
func (l *uidLease) release() {
	if l == nil || l.lock == nil {
		return
	}
	_ = os.Remove(l.lock.Name())
	_ = l.lock.Close()
	l.lock = nil
}

// reclaim removes the lease files no live provider holds (left by a
// crash), and the lease directory once it is empty.
func (u *uidPool) reclaim() {
	entries, err := os.ReadDir(u.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		uid, err := strconv.Atoi(e.Name())
		if err != nil || strconv.Itoa(uid) != e.Name() || !e.Type().IsRegular() {
			continue
		}
		if lock, err := u.tryLock(uid); err == nil && lock != nil {
			(&uidLease{uid: uid, lock: lock}).release()
		}
	}
	_ = os.Remove(u.dir) // only if empty: another provider may lease
}

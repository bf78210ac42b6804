//go:build linux

package local

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"

	"github.com/computemw/kit/providers/local/internal/cgroups"
	"golang.org/x/sys/unix"
)

// nsThreads make workspaces in mount namespaces of their own and start
// the sandboxes' processes in them, from a few OS threads kept for that.
//
// A workspace tmpfs mounted in the server's mount namespace is copied into
// the new mount namespace of every bwrap started after it, and bwrap reads
// the whole mount table once per bind: every ready or live sandbox's
// workspace made every other sandbox's start slower. Each workspace is
// instead mounted in a namespace of its own, a copy of the server's held
// by a descriptor, and its sandbox's processes start from a thread that
// entered that namespace (bwrap binds the workspace from the namespace it
// starts in). Nothing of it outlives the server: a namespace and its tmpfs
// end with their last descriptor and process.
//
// The threads stay locked and are never given back to the runtime, as a
// thread that has unshared its filesystem attributes must run nothing
// else; they live as long as the provider, since a process started with
// Pdeathsig is killed when the thread that started it ends.
type nsThreads struct {
	work chan func() bool // false: the thread must end
	stop chan struct{}
	host *os.File // the server's mount namespace
	// base is the namespace every workspace's is copied from (makeBase);
	// nil: the server's. A base whose host /etc entries were replaced
	// since is made again; old ones are closed with the threads.
	baseMu  sync.Mutex
	base    *os.File
	baseOld []*os.File
	baseEtc etcBase
	once    sync.Once
	wg      sync.WaitGroup
}

// errNSThreadsClosed: the provider is closing.
var errNSThreadsClosed = errors.New("local: the provider is closed")

// newNSThreads starts n threads.
func newNSThreads(n int) (*nsThreads, error) {
	host, err := os.Open("/proc/self/ns/mnt")
	if err != nil {
		return nil, fmt.Errorf("local: mount namespace: %w", err)
	}
	t := &nsThreads{work: make(chan func() bool), stop: make(chan struct{}), host: host}
	ready := make(chan error, n)
	for range n {
		t.wg.Add(1)
		go t.serve(ready)
	}
	for range n {
		if err := <-ready; err != nil {
			t.close()
			return nil, fmt.Errorf("local: mount namespace thread: %w", err)
		}
	}
	return t, nil
}

// serve runs work on a locked thread, never the server's main thread,
// until stop. It never unlocks the thread: the thread ends with the
// goroutine.
func (t *nsThreads) serve(ready chan<- error) {
	defer t.wg.Done()
	runtime.LockOSThread()
	if unix.Gettid() == unix.Getpid() {
		// The server's main thread, which the kernel's out-of-memory
		// killer would take for the whole server in a sandbox's cgroup,
		// never joins one (internal/cgroups: Joiner): it is held idle here, so
		// that the thread that takes its place is another.
		t.wg.Add(1)
		go t.serve(ready)
		<-t.stop
		runtime.UnlockOSThread()
		return
	}
	// setns into a mount namespace needs a thread whose filesystem
	// attributes (root, working directory) are its own.
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		ready <- err
		return
	}
	ready <- nil
	for {
		select {
		case f := <-t.work:
			if !f() {
				// Stuck outside the server's namespace: the thread
				// ends, and another takes its place.
				t.wg.Add(1)
				go t.serve(make(chan error, 1))
				return
			}
		case <-t.stop:
			return
		}
	}
}

// run runs f on one of the threads, inside mount namespace ns (the
// server's when nil); the thread then goes back to the server's, so that
// no thread keeps a sandbox's namespace alive.
func (t *nsThreads) run(ns *os.File, f func() error) error {
	_, err := t.start(ns, nil, f)
	return err
}

// start is run for f that starts a process, which is born, when g is not
// nil and lets the thread join it, in cgroup g as well (internal/cgroups: Joiner);
// joined reports whether it was and the thread left g once f returned.
// A thread that cannot leave ends, and the process it started
// (Pdeathsig) with it.
func (t *nsThreads) start(ns *os.File, g cgroups.Joiner, f func() error) (joined bool, err error) {
	type result struct {
		joined bool
		err    error
	}
	done := make(chan result, 1)
	job := func() bool {
		var leave func() error
		if g != nil {
			var err error
			if leave, err = g.Join(); err != nil {
				if leave != nil && leave() != nil {
					done <- result{err: fmt.Errorf("local: leave a sandbox's cgroup: %w", err)}
					return false
				}
				leave = nil
			}
		}
		// ok: the thread is back in the server's namespace and groups.
		left := false // the thread joined g and left it
		back := func() (ok bool) {
			ok = unix.Setns(int(t.host.Fd()), unix.CLONE_NEWNS) == nil
			if leave != nil {
				left = leave() == nil
				ok = ok && left
			}
			return ok
		}
		if ns != nil {
			if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNS); err != nil {
				done <- result{err: fmt.Errorf("local: enter mount namespace: %w", err)}
				return back()
			}
		}
		err := f()
		ok := back()
		done <- result{joined: left, err: err}
		return ok
	}
	select {
	case t.work <- job:
	case <-t.stop:
		return false, errNSThreadsClosed
	}
	r := <-done
	return r.joined, r.err
}

// workspace makes dir, in a new mount namespace copied from the base one
// (makeBase; the server's where there is none), a tmpfs mounted with
// options, and returns that namespace and an O_PATH
// descriptor of the tmpfs.
func (t *nsThreads) workspace(dir, options string) (ns, ws *os.File, err error) {
	base, err := t.currentBase()
	if err != nil {
		return nil, nil, err
	}
	err = t.run(nil, func() error {
		if base != nil {
			if err := unix.Setns(int(base.Fd()), unix.CLONE_NEWNS); err != nil {
				return fmt.Errorf("enter the base mount namespace: %w", err)
			}
		}
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			return fmt.Errorf("new mount namespace: %w", err)
		}
		// Nothing mounted here reaches the server's namespace.
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
			return fmt.Errorf("mount namespace propagation: %w", err)
		}
		if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, options); err != nil {
			return err
		}
		var err error
		if ns, err = os.Open("/proc/thread-self/ns/mnt"); err != nil {
			return err
		}
		if ws, err = openPath(dir); err != nil {
			ns.Close()
			return err
		}
		return nil
	})
	return ns, ws, err
}

// etcBase is what a base namespace was made with (makeBase).
type etcBase struct {
	dir     string
	etc     []string
	dropSys bool
	ids     []fileID // of each host path of etc when bound; zero: absent
}

// fileID identifies a file: a path replaced by another file (a package
// manager's or an editor's rename) has another.
type fileID struct{ dev, ino uint64 }

// etcIDs returns the fileID of each path (zero for one that is absent).
func etcIDs(paths []string) []fileID {
	ids := make([]fileID, len(paths))
	for i, p := range paths {
		var st unix.Stat_t
		if unix.Stat(p, &st) == nil {
			ids[i] = fileID{uint64(st.Dev), st.Ino}
		}
	}
	return ids
}

// makeBase makes the namespace every workspace's is copied from: a copy
// of the server's that still receives what is mounted there (a slave),
// with each host path of etc that exists bound at its name in etcDir, and,
// when dropSys, without /sys. The server's own namespace is left as it
// was. A bind holds the file it was made with, so the base is made again
// when one of those paths names another file (currentBase).
//
// Every bwrap copies the mount table of the namespace it starts in and
// reads all of it after each mount it makes: binding the host's /etc
// entries one by one cost about 1.7 ms of CPU per sandbox of the 5.3 ms
// bwrap took (perf stat, 15 entries against one directory, this
// project's 2-core machine kind), and the cgroup hierarchies under /sys,
// which no sandbox's start needs, are half the server's table there.
func (t *nsThreads) makeBase(etcDir string, etc []string, dropSys bool) error {
	t.baseMu.Lock()
	defer t.baseMu.Unlock()
	return t.makeBaseLocked(etcBase{dir: etcDir, etc: etc, dropSys: dropSys})
}

func (t *nsThreads) makeBaseLocked(b etcBase) error {
	var base *os.File
	b.ids = etcIDs(b.etc)
	err := t.run(nil, func() error {
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			return fmt.Errorf("new mount namespace: %w", err)
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
			return fmt.Errorf("mount namespace propagation: %w", err)
		}
		for _, src := range b.etc {
			dst := filepath.Join(b.dir, filepath.Base(src))
			fi, err := os.Stat(src)
			if err != nil {
				// Gone from the host since the last base: so is its
				// (empty, unmounted here) mount point.
				_ = os.Remove(dst)
				continue
			}
			if old, err := os.Lstat(dst); err == nil && old.IsDir() != fi.IsDir() {
				_ = os.Remove(dst)
			}
			if fi.IsDir() {
				err = os.Mkdir(dst, 0o755)
			} else {
				err = os.WriteFile(dst, nil, 0o644)
			}
			if err != nil && !errors.Is(err, os.ErrExist) {
				return err
			}
			if err := unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
				return fmt.Errorf("bind %s: %w", src, err)
			}
		}
		if b.dropSys {
			if err := unix.Unmount("/sys", unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("unmount /sys: %w", err)
			}
		}
		var err error
		base, err = os.Open("/proc/thread-self/ns/mnt")
		return err
	})
	if err != nil {
		return fmt.Errorf("local: base mount namespace: %w", err)
	}
	if t.base != nil {
		t.baseOld = append(t.baseOld, t.base)
	}
	t.base, t.baseEtc = base, b
	return nil
}

// currentBase returns the base namespace (nil: none), made again first
// when a host path it binds names another file now.
func (t *nsThreads) currentBase() (*os.File, error) {
	t.baseMu.Lock()
	defer t.baseMu.Unlock()
	if t.base != nil && !slices.Equal(etcIDs(t.baseEtc.etc), t.baseEtc.ids) {
		if err := t.makeBaseLocked(t.baseEtc); err != nil {
			return nil, err
		}
	}
	return t.base, nil
}

// close ends the threads.
func (t *nsThreads) close() {
	t.once.Do(func() {
		close(t.stop)
		t.wg.Wait()
		_ = t.host.Close()
		for _, f := range append(t.baseOld, t.base) {
			if f != nil {
				_ = f.Close()
			}
		}
	})
}

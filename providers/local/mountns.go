//go:build linux

package local

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"

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
	once sync.Once
	wg   sync.WaitGroup
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

// serve runs work on a locked thread until stop. It never unlocks the
// thread: the thread ends with the goroutine.
func (t *nsThreads) serve(ready chan<- error) {
	defer t.wg.Done()
	runtime.LockOSThread()
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
	done := make(chan error, 1)
	job := func() bool {
		if ns != nil {
			if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNS); err != nil {
				done <- fmt.Errorf("local: enter mount namespace: %w", err)
				return unix.Setns(int(t.host.Fd()), unix.CLONE_NEWNS) == nil
			}
		}
		done <- f()
		return unix.Setns(int(t.host.Fd()), unix.CLONE_NEWNS) == nil
	}
	select {
	case t.work <- job:
	case <-t.stop:
		return errNSThreadsClosed
	}
	return <-done
}

// workspace makes dir, in a new mount namespace copied from the server's,
// a tmpfs mounted with options, and returns that namespace and an O_PATH
// descriptor of the tmpfs.
func (t *nsThreads) workspace(dir, options string) (ns, ws *os.File, err error) {
	err = t.run(nil, func() error {
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

// close ends the threads.
func (t *nsThreads) close() {
	t.once.Do(func() {
		close(t.stop)
		t.wg.Wait()
		_ = t.host.Close()
	})
}

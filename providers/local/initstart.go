//go:build linux

package local

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/internal/textstream"
	"github.com/computemw/kit/providers/local/internal/initproto"
	"github.com/computemw/kit/providers/local/internal/sandboxinit"
)

// openInitBinary opens the binary every sandbox's init runs: the server's
// own (the package initialisation of internal/sandboxinit, which this
// package imports, serves as the init). Sandboxes
// reach it only through a descriptor, so its directory may be closed to
// them; when the file itself is not executable by their uids, a copy in
// the instance directory is.
func (p *Provider) openInitBinary() error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("local: the server's binary: %w", err)
	}
	fi, err := os.Stat(self)
	if err != nil {
		return fmt.Errorf("local: the server's binary: %w", err)
	}
	if p.iso.otherUIDs() && fi.Mode().Perm()&0o001 == 0 {
		copyPath := filepath.Join(p.dir, "init")
		if err := copyExecutable(self, copyPath); err != nil {
			return fmt.Errorf("local: copy of the server's binary for sandboxes: %w", err)
		}
		self = copyPath
	}
	f, err := openPath(self)
	if err != nil {
		return fmt.Errorf("local: the server's binary: %w", err)
	}
	p.exe = f
	return nil
}

func copyExecutable(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

// startInit starts the sandbox's init inside its profile: namespaces,
// filter, cgroup, rlimits and environment apply to it and so to every
// process it starts. It returns once the init runs in the cgroup.
func (s *sandbox) startInit(ctx context.Context) error {
	mine, theirs, err := initproto.SocketPair()
	if err != nil {
		return fmt.Errorf("local: %w", err)
	}
	defer theirs.Close()
	argv := []string{"/proc/self/fd/" + fdString(fdInitExe)}
	pr, err := s.buildProfile(argv, s.inside("."), nil)
	if err != nil {
		mine.Close()
		return err
	}
	// The init lowers its own rlimits before it serves (so every process
	// it starts inherits them), also where the isolation set them first,
	// rather than behind a shell that would cost an exec.
	pr.argv = argv
	// The runtime of the init starts with one processor and a tight heap:
	// it only forks, execs and relays a few messages.
	lim := s.p.rlimits()
	pr.env = append(pr.env, sandboxinit.Environ(fdInitSocket, fdInitExe, lim.fileBytes, lim.openFiles)...)
	pr.env = append(pr.env, "GOMAXPROCS=1", "GOGC=50")
	pr.init = []*os.File{theirs, s.p.exe}
	pr.ownInit = true
	l, err := s.p.iso.prepare(pr)
	if err != nil {
		mine.Close()
		return err
	}
	l.cmd.Stderr = textstream.NewCapped(4 << 10)
	conn, err := initproto.NewConn(mine)
	if err != nil {
		l.close()
		return fmt.Errorf("local: %w", err)
	}
	// The init is not one of the sandbox's runs (liveInit): Destroy
	// kills it apart, or hands it to the sandbox that succeeds this one.
	ip := &initProc{
		cmd: l.cmd, conn: conn,
		waiting: map[uint64]chan *initReply{},
		dead:    make(chan struct{}),
		exited:  make(chan struct{}),
	}
	s.mu.Lock()
	if s.destroyed {
		s.mu.Unlock()
		l.close()
		conn.Close()
		return computemw.Errorf(computemw.CodeNotFound, "sandbox %s was destroyed", s.id)
	}
	s.liveInit.Store(ip)
	s.mu.Unlock()
	pid, err := s.spawn(ctx, l, pr.cgroup)
	s.mu.Lock()
	delete(s.runs, l.cmd)
	s.mu.Unlock()
	if err != nil {
		s.liveInit.Store(nil)
		conn.Close()
		return fmt.Errorf("local: start the sandbox's init: %w", err)
	}
	ip.pid = pid
	ready := make(chan *initReply, 1)
	ip.waiting[0] = ready
	go ip.serve()
	select {
	case <-ready:
	case <-ip.dead:
		killTree(l.cmd)
		<-ip.exited
		s.liveInit.Store(nil)
		return fmt.Errorf("local: the sandbox's init failed to start: %s", stderrOf(l.cmd))
	case <-ctx.Done():
		killTree(l.cmd)
		conn.Close()
		<-ip.exited
		s.liveInit.Store(nil)
		return ctx.Err()
	}
	ip.done(0)
	s.init = ip
	return nil
}

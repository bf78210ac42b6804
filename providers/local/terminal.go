//go:build linux

package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"sync"
	"syscall"

	"github.com/computemw/kit/computemw"
	"github.com/creack/pty"
)

// OpenTerminal implements computemw.TerminalOpener: the program runs on a
// new pseudo-terminal, opened and started by the sandbox's init like every
// execution,
// until it exits, Close is called, or the sandbox is destroyed. It leads a
// session of the sandbox whose controlling terminal is the
// pseudo-terminal, so a shell's job control works.
func (s *sandbox) OpenTerminal(ctx context.Context, opts computemw.TerminalOptions) (computemw.Terminal, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	argv := []string{"/bin/sh"}
	if _, err := lookPathIn("bash", s.p.iso.visible); err == nil {
		argv = []string{"/bin/bash", "-l"}
	}
	if opts.Command != "" {
		argv = []string{"/bin/sh", "-c", opts.Command}
	}
	if err := checkArgv(argv); err != nil {
		return nil, err
	}
	env := maps.Clone(opts.Env)
	if env == nil {
		env = map[string]string{}
	}
	env["TERM"] = "xterm-256color"
	environ, err := s.environ(env)
	if err != nil {
		return nil, err
	}
	ip, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	// The pseudo-terminal is the sandbox's own (its devpts instance):
	// the program finds its name, and the host's devpts is not used.
	id, exited, started, err := ip.startProc(ctx, &initMsg{
		Argv: argv, Env: environ, Dir: s.inside("."),
		TTY: true, Cols: max(opts.Cols, 1), Rows: max(opts.Rows, 1),
	})
	if err != nil {
		s.leave()
		return nil, fmt.Errorf("local: terminal: %w", err)
	}
	if len(started.files) != 1 {
		closeFiles(started.files)
		ip.signal(id, int(syscall.SIGKILL))
		go func() {
			select {
			case <-exited:
			case <-ip.dead:
			}
			ip.done(id)
			s.leave()
		}()
		return nil, errors.New("local: terminal: the sandbox's init sent no terminal")
	}
	ptmx := started.files[0]
	t := &terminal{ptmx: ptmx, ip: ip, id: id, done: make(chan struct{}), s: s}
	s.mu.Lock()
	if s.destroyed {
		// Destroyed while it started: its end goes with the sandbox.
		s.mu.Unlock()
		t.closeMaster()
	} else {
		s.terms[t] = true
		s.mu.Unlock()
	}
	go func() {
		defer close(t.done)
		defer s.leave()
		defer ip.done(id)
		select {
		case m := <-exited:
			t.code = waitCode(syscall.WaitStatus(m.Status))
		case <-ip.dead:
			t.code, t.err = -1, ip.gone()
		}
	}()
	return t, nil
}

// terminal is a program running on a pseudo-terminal in a sandbox.
type terminal struct {
	ptmx *os.File
	ip   *initProc
	id   uint64
	done chan struct{}
	code int
	err  error
	once sync.Once
	s    *sandbox

	masterOnce sync.Once
}

// closeMaster closes the host's end of the pseudo-terminal: with the
// program gone, nothing of it is left in the sandbox's /dev/pts.
func (t *terminal) closeMaster() {
	t.masterOnce.Do(func() {
		_ = t.ptmx.Close()
		t.s.mu.Lock()
		delete(t.s.terms, t)
		t.s.mu.Unlock()
	})
}

// Read returns the program's output; io.EOF once it has exited.
func (t *terminal) Read(p []byte) (int, error) {
	n, err := t.ptmx.Read(p)
	if err != nil && (errors.Is(err, syscall.EIO) || errors.Is(err, os.ErrClosed)) {
		err = io.EOF
	}
	return n, err
}

// Write types into the program.
func (t *terminal) Write(p []byte) (int, error) { return t.ptmx.Write(p) }

// Resize sets the window size; the program gets SIGWINCH.
func (t *terminal) Resize(cols, rows uint16) error {
	return pty.Setsize(t.ptmx, &pty.Winsize{Cols: cols, Rows: rows})
}

// Wait waits for the program and returns its exit code.
func (t *terminal) Wait() (int, error) {
	<-t.done
	return t.code, t.err
}

// Close kills the program's session and releases the terminal.
func (t *terminal) Close() error {
	t.once.Do(func() {
		t.ip.signal(t.id, int(syscall.SIGKILL))
		go func() {
			<-t.done
			t.closeMaster()
		}()
	})
	return nil
}

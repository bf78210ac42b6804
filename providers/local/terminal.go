//go:build linux

package local

import (
	"context"
	"errors"
	"io"
	"maps"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"github.com/computemw/kit/computemw"
	"github.com/creack/pty"
)

// OpenTerminal implements computemw.TerminalOpener: the program runs on a
// new pseudo-terminal, under the same isolation profile and cgroup as every
// execution, until it exits, Close is called, or the sandbox is destroyed.
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
	// The program leads a session of the sandbox whose controlling
	// terminal is the pseudo-terminal (util-linux setsid -c), so a shell's
	// job control works with the sandbox's own process IDs.
	if _, err := lookPathIn("setsid", s.p.iso.visible); err == nil {
		argv = append([]string{"setsid", "-c"}, argv...)
	}
	env := maps.Clone(opts.Env)
	if env == nil {
		env = map[string]string{}
	}
	env["TERM"] = "xterm-256color"
	pr, err := s.buildProfile(argv, s.inside("."), env)
	if err != nil {
		return nil, err
	}

	ptmx, tty, err := pty.Open()
	if err != nil {
		return nil, err
	}
	if err := pty.Setsize(ptmx, &pty.Winsize{Cols: max(opts.Cols, 1), Rows: max(opts.Rows, 1)}); err != nil {
		ptmx.Close()
		tty.Close()
		return nil, err
	}
	l, err := s.p.iso.prepare(pr)
	if err != nil {
		ptmx.Close()
		tty.Close()
		return nil, err
	}
	cmd := l.cmd
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	if err := s.begin(cmd); err != nil {
		l.close()
		ptmx.Close()
		tty.Close()
		return nil, err
	}
	err = s.spawn(ctx, l, pr.cgroup)
	tty.Close() // the sandbox holds the only other end now
	if err != nil {
		s.end(cmd)
		ptmx.Close()
		return nil, err
	}
	t := &terminal{ptmx: ptmx, cmd: cmd, done: make(chan struct{})}
	go func() {
		t.err = cmd.Wait()
		t.code = exitCode(cmd.ProcessState, t.err)
		s.end(cmd)
		close(t.done)
	}()
	return t, nil
}

// terminal is a program running on a pseudo-terminal in a sandbox.
type terminal struct {
	ptmx *os.File
	cmd  *exec.Cmd
	done chan struct{}
	code int
	err  error
	once sync.Once
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
	var ee *exec.ExitError
	if t.err != nil && !errors.As(t.err, &ee) {
		return t.code, t.err
	}
	return t.code, nil
}

// Close kills the program's whole tree and releases the terminal.
func (t *terminal) Close() error {
	t.once.Do(func() {
		killTree(t.cmd)
		go func() {
			<-t.done
			t.ptmx.Close()
		}()
	})
	return nil
}

package e2b

import (
	"context"
	"errors"
	"io"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/e2b/internal/envd/process"
)

// OpenTerminal starts opts.Command (a login bash when empty) on an envd
// pseudo-terminal in the workspace. It runs until it exits, Close is
// called, or the sandbox is destroyed; ctx bounds only the start.
func (s *Sandbox) OpenTerminal(ctx context.Context, opts computemw.TerminalOptions) (computemw.Terminal, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	cmd, args := "/bin/bash", []string{"-i", "-l"}
	if opts.Command != "" {
		cmd, args = "/bin/sh", []string{"-c", opts.Command}
	}
	env := maps.Clone(opts.Env)
	if env == nil {
		env = map[string]string{}
	}
	env["TERM"] = "xterm-256color"
	cwd := s.p.opts.Workdir
	tag := s.nextTag()
	req := &process.StartRequest{
		Process: &process.ProcessConfig{Cmd: cmd, Args: args, Envs: env, Cwd: &cwd},
		Pty:     &process.PTY{Size: &process.PTY_Size{Cols: uint32(max(opts.Cols, 1)), Rows: uint32(max(opts.Rows, 1))}},
		Tag:     &tag,
	}
	life, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stream, err := s.envd.proc.Start(life, s.startRequest(req))
	if err != nil {
		cancel()
		// Without an answer it may have started: kill it by its tag.
		s.kill(ctx, &process.ProcessSelector{Selector: &process.ProcessSelector_Tag{Tag: tag}})
		return nil, classifyConnect("start terminal", err)
	}
	// The first event carries the pid; wait for it within ctx.
	started := make(chan error, 1)
	t := &terminal{s: s, cancel: cancel, done: make(chan struct{}), code: -1}
	t.pr, t.pw = io.Pipe()
	go t.follow(stream, started)
	select {
	case err := <-started:
		if err != nil {
			_ = t.Close()
			return nil, err
		}
	case <-ctx.Done():
		s.kill(ctx, &process.ProcessSelector{Selector: &process.ProcessSelector_Tag{Tag: tag}})
		_ = t.Close()
		return nil, ctx.Err()
	}
	s.mu.Lock()
	if s.destroyed {
		s.mu.Unlock()
		_ = t.Close()
		return nil, &computemw.Error{Code: computemw.CodeNotFound, Message: "the sandbox was destroyed"}
	}
	s.terms[t] = struct{}{}
	s.mu.Unlock()
	return t, nil
}

// terminal is a program on an envd pseudo-terminal.
type terminal struct {
	s      *Sandbox
	cancel context.CancelFunc
	pr     *io.PipeReader
	pw     *io.PipeWriter

	mu  sync.Mutex
	sel *process.ProcessSelector

	done     chan struct{}
	code     int
	err      error
	closing  atomic.Bool // Close was called: the end is ours, not an error
	closeOne sync.Once
}

// killedCode is the exit code of a program ended by SIGKILL, as a shell
// reports it.
const killedCode = 128 + 9

// follow reads the process's events until its end; output goes to the
// pipe that Read reads.
func (t *terminal) follow(stream *connect.ServerStreamForClient[process.StartResponse], started chan<- error) {
	defer close(t.done)
	defer stream.Close()
	first := true
	discard := false // the reader is gone: output is drained, not kept
	for stream.Receive() {
		ev := stream.Msg().GetEvent()
		switch {
		case ev.GetStart() != nil:
			t.mu.Lock()
			t.sel = &process.ProcessSelector{Selector: &process.ProcessSelector_Pid{Pid: ev.GetStart().GetPid()}}
			t.mu.Unlock()
			if first {
				first = false
				started <- nil
			}
		case ev.GetData() != nil:
			if b := ev.GetData().GetPty(); len(b) > 0 && !discard {
				if _, err := t.pw.Write(b); err != nil {
					discard = true // Close is under way; wait for the end
				}
			}
		case ev.GetEnd() != nil:
			end := ev.GetEnd()
			t.code = int(end.GetExitCode())
			if !end.GetExited() && t.closing.Load() {
				t.code = killedCode
			}
			_ = t.pw.Close()
			return
		}
	}
	if t.closing.Load() {
		// Closed before envd reported the end: killed by Close.
		t.code = killedCode
		if first {
			started <- errors.New("e2b: the terminal was closed")
		}
		_ = t.pw.CloseWithError(io.EOF)
		return
	}
	t.err = classifyConnect("terminal stream", stream.Err())
	if t.err == nil {
		t.err = &computemw.Error{Code: computemw.CodeUnavailable, Message: "provider e2b lost the terminal", Err: io.ErrUnexpectedEOF}
	}
	if first {
		started <- t.err
	}
	_ = t.pw.CloseWithError(io.EOF)
}

func (t *terminal) selector() (*process.ProcessSelector, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	select {
	case <-t.done:
		return nil, errors.New("e2b: the terminal has ended")
	default:
	}
	return t.sel, nil
}

// Read returns the program's output; io.EOF once it has ended.
func (t *terminal) Read(p []byte) (int, error) { return t.pr.Read(p) }

// Write types into the program.
func (t *terminal) Write(p []byte) (int, error) {
	sel, err := t.selector()
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	in := &process.ProcessInput{Input: &process.ProcessInput_Pty{Pty: append([]byte(nil), p...)}}
	if _, err := t.s.envd.proc.SendInput(ctx, connect.NewRequest(&process.SendInputRequest{Process: sel, Input: in})); err != nil {
		return 0, classifyConnect("terminal input", err)
	}
	return len(p), nil
}

// Resize changes the window size.
func (t *terminal) Resize(cols, rows uint16) error {
	sel, err := t.selector()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	size := &process.PTY{Size: &process.PTY_Size{Cols: uint32(max(cols, 1)), Rows: uint32(max(rows, 1))}}
	_, err = t.s.envd.proc.Update(ctx, connect.NewRequest(&process.UpdateRequest{Process: sel, Pty: size}))
	return classifyConnect("resize terminal", err)
}

// Wait waits for the program to end and returns its exit code.
func (t *terminal) Wait() (int, error) {
	<-t.done
	return t.code, t.err
}

// Close kills the program (if it still runs), waits a little for envd to
// report its end, and ends the stream. Wait then returns the program's
// exit code (137 when Close killed it) and no error.
func (t *terminal) Close() error {
	t.closeOne.Do(func() {
		t.closing.Store(true)
		_ = t.pr.Close() // a blocked output write gives up; the rest is drained
		t.mu.Lock()
		sel := t.sel
		t.mu.Unlock()
		select {
		case <-t.done:
		default:
			if sel != nil {
				t.s.kill(context.Background(), sel)
			}
			wait := time.NewTimer(5 * time.Second)
			select {
			case <-t.done:
			case <-wait.C:
			}
			wait.Stop()
		}
		t.cancel()
		<-t.done
		t.s.mu.Lock()
		delete(t.s.terms, t)
		t.s.mu.Unlock()
	})
	return nil
}

package kubernetes

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	processv1 "sigs.k8s.io/agent-sandbox/packages/sandboxd/spec/process/v1"

	"github.com/computemw/kit/computemw"
)

// OpenTerminal implements computemw.TerminalOpener: opts.Command (a login
// shell when empty) on a pseudo-terminal sandboxd allocates (Start with a
// PTY; WriteStdin types, ResizeTTY resizes).
func (s *Sandbox) OpenTerminal(ctx context.Context, opts computemw.TerminalOptions) (computemw.Terminal, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	argv := []string{"sh", "-l"}
	if opts.Command != "" {
		argv = []string{"sh", "-c", opts.Command}
	}
	cfg, err := s.config(argv, "", opts.Env)
	if err != nil {
		return nil, err
	}
	cols, rows := opts.Cols, opts.Rows
	if cols == 0 || rows == 0 {
		cols, rows = 80, 24
	}
	if s.pe != nil {
		s.executions.Add(1)
		return s.podOpenTerminal(ctx, argv, opts, cols, rows)
	}
	tctx, cancel := context.WithCancel(s.outgoing(context.WithoutCancel(ctx)))
	stream, err := s.proc.Start(tctx, &processv1.StartRequest{Config: cfg, Pty: &processv1.PTY{Cols: uint32(cols), Rows: uint32(rows)}})
	if err != nil {
		cancel()
		return nil, grpcError("start terminal", err)
	}
	first, err := stream.Recv()
	if err != nil || first.GetInit() == nil {
		cancel()
		if err == nil {
			err = errors.New("no init event")
		}
		return nil, grpcError("start terminal", err)
	}
	s.executions.Add(1)
	pr, pw := io.Pipe()
	t := &terminal{s: s, ctx: tctx, cancel: cancel, pid: first.GetInit().GetProcessId(), out: pr, done: make(chan struct{})}
	go t.pump(stream, pw)
	return t, nil
}

// terminal is a process on sandboxd's pseudo-terminal.
type terminal struct {
	s      *Sandbox
	ctx    context.Context
	cancel context.CancelFunc
	pid    int32
	out    *io.PipeReader

	done    chan struct{}
	code    int
	err     error
	closeMu sync.Once
}

// pump copies the terminal's output into the pipe Read reads, to the exit.
func (t *terminal) pump(stream processv1.ProcessService_StartClient, w *io.PipeWriter) {
	defer close(t.done)
	for {
		ev, err := stream.Recv()
		if err != nil {
			t.code, t.err = -1, grpcError("terminal", err)
			w.CloseWithError(io.EOF)
			return
		}
		switch e := ev.GetEvent().(type) {
		case *processv1.StartResponse_Stdout:
			if _, err := w.Write(e.Stdout); err != nil {
				t.code, t.err = -1, err
				t.cancel()
				return
			}
		case *processv1.StartResponse_Stderr:
			if _, err := w.Write(e.Stderr); err != nil {
				t.code, t.err = -1, err
				t.cancel()
				return
			}
		case *processv1.StartResponse_Exit:
			t.code = int(e.Exit.GetExitCode())
			w.CloseWithError(io.EOF)
			return
		}
	}
}

// Read reads the terminal's output.
func (t *terminal) Read(p []byte) (int, error) { return t.out.Read(p) }

// Write types into the terminal.
func (t *terminal) Write(p []byte) (int, error) {
	for off := 0; off < len(p); off += stdinChunk {
		chunk := p[off:min(off+stdinChunk, len(p))]
		req := &processv1.WriteStdinRequest{ProcessId: t.pid, Payload: &processv1.WriteStdinRequest_Input{Input: append([]byte(nil), chunk...)}}
		if _, err := t.s.proc.WriteStdin(t.ctx, req); err != nil {
			return off, grpcError("terminal input", err)
		}
	}
	return len(p), nil
}

// Resize changes the window size.
func (t *terminal) Resize(cols, rows uint16) error {
	_, err := t.s.proc.ResizeTTY(t.ctx, &processv1.ResizeTTYRequest{ProcessId: t.pid, Cols: uint32(cols), Rows: uint32(rows)})
	return grpcError("resize terminal", err)
}

// Wait waits for the program to exit and returns its exit code.
func (t *terminal) Wait() (int, error) {
	<-t.done
	if t.err != nil && !errors.Is(t.err, context.Canceled) {
		return t.code, t.err
	}
	return t.code, nil
}

// Close kills the program (its process group) and ends the stream.
func (t *terminal) Close() error {
	t.closeMu.Do(func() {
		select {
		case <-t.done:
		default:
			ctx, cancel := context.WithTimeout(t.ctx, 5*time.Second)
			_, _ = t.s.proc.SendSignal(ctx, &processv1.SendSignalRequest{ProcessId: t.pid, Signal: processv1.Signal_SIGNAL_SIGKILL})
			cancel()
		}
		t.cancel()
		t.out.Close()
		<-t.done
	})
	return nil
}

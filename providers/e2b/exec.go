package e2b

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/internal/textstream"
	"github.com/computemw/kit/providers/e2b/internal/envd/process"
	"github.com/computemw/kit/providers/internal/execopts"
	"github.com/computemw/kit/providers/internal/vendorhttp"
)

var errExecTimeout = errors.New("execution timed out")

// Exec runs command with /bin/sh -c in the sandbox, in opts.Cwd under
// Options.Workdir. Output streams to opts.Stdout and opts.Stderr as envd
// sends it; opts.Stdin is sent with SendInput and closed with CloseStdin.
// At the timeout the process is killed with SIGKILL and the partial result
// comes back with an error of class TIMEOUT. Process start is never retried.
func (s *Sandbox) Exec(ctx context.Context, command string, opts computemw.ExecOptions) (*computemw.Result, error) {
	if err := execopts.Refuse(s.p.Name(), opts); err != nil {
		return nil, err
	}
	return s.run(ctx, "/bin/sh", []string{"-c", command}, opts)
}

// RunCode writes code to a hidden file in the workspace (so that it can
// import files next to it) and runs it with the command line
// Options.Languages gives for language, then removes the file. The file is
// named relative to the working directory, so the command line holds no
// absolute path of the sandbox. An unknown language is an error of class
// EXECUTION_ERROR.
func (s *Sandbox) RunCode(ctx context.Context, language, code string, opts computemw.ExecOptions) (*computemw.Result, error) {
	if err := execopts.Refuse(s.p.Name(), opts); err != nil {
		return nil, err
	}
	line, ok := s.p.opts.Languages[language]
	if !ok {
		return nil, &computemw.Error{Code: computemw.CodeExecution, Message: fmt.Sprintf("unsupported language %q", language),
			Details: map[string]any{"languages": s.p.Languages()}}
	}
	if err := s.alive(); err != nil {
		return nil, err
	}
	// From the working directory (opts.Cwd, already checked by resolve in
	// run), climb back to the workspace.
	up := ""
	if opts.Cwd != "" {
		if _, err := s.resolve(opts.Cwd); err != nil {
			return nil, err
		}
		for _, part := range strings.Split(path.Clean(opts.Cwd), "/") {
			if part != "." && part != "" {
				up += "../"
			}
		}
	}
	name := ".computemw-" + s.nextTag() + languageExt(language)
	abs := s.p.opts.Workdir + "/" + name
	if err := s.upload(ctx, abs, []byte(code)); err != nil {
		return nil, err
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = s.removeAbs(rctx, abs)
	}()
	return s.run(ctx, "/bin/sh", []string{"-c", strings.ReplaceAll(line, "{file}", shellQuote(up+name))}, opts)
}

func languageExt(language string) string {
	switch language {
	case "python":
		return ".py"
	case "javascript":
		return ".js"
	case "typescript":
		return ".ts"
	case "bash", "sh":
		return ".sh"
	}
	return ""
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// run starts one process and follows its events to the end.
func (s *Sandbox) run(ctx context.Context, cmd string, args []string, opts computemw.ExecOptions) (*computemw.Result, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	if opts.Stdin != nil && !s.envd.has(closeStdin) {
		// Without CloseStdin a program that reads its input to the end
		// would wait for ever.
		return nil, computemw.Unsupported(Name, "standard input on a sandbox whose envd is "+s.envd.version.String()+
			" (older than "+closeStdin.String()+"; rebuild the template)")
	}
	cwd := s.p.opts.Workdir
	if opts.Cwd != "" {
		var err error
		if cwd, err = s.resolve(opts.Cwd); err != nil {
			return nil, err
		}
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = s.p.opts.ExecTimeout
	}
	if s.maxExec > 0 {
		timeout = min(timeout, s.maxExec)
	}
	limit := opts.MaxOutputBytes
	if limit <= 0 {
		limit = s.p.opts.MaxOutputBytes
	}
	s.executions.Add(1)

	runCtx, cancel := context.WithTimeoutCause(ctx, timeout, errExecTimeout)
	defer cancel()
	stopCtx, stop := context.WithCancelCause(runCtx)
	defer stop(nil)

	tag := s.nextTag()
	withStdin := opts.Stdin != nil
	req := &process.StartRequest{
		Process: &process.ProcessConfig{Cmd: cmd, Args: args, Envs: maps.Clone(opts.Env), Cwd: &cwd},
		Tag:     &tag,
	}
	if s.envd.has(startStdin) {
		// An older envd has no such field: stdin is always open there.
		req.Stdin = &withStdin
	}
	start := time.Now()
	out := textstream.NewCapped(limit)
	errOut := textstream.NewCapped(limit)
	stdout := textstream.Tee(out, opts.Stdout, stop)
	stderr := textstream.Tee(errOut, opts.Stderr, stop)
	res := func() *computemw.Result {
		r := &computemw.Result{ExecutionTime: time.Since(start)}
		r.Stdout, r.Truncated = out.Result()
		var t bool
		r.Stderr, t = errOut.Result()
		r.Truncated = r.Truncated || t
		return r
	}

	sel := &process.ProcessSelector{Selector: &process.ProcessSelector_Tag{Tag: tag}}
	stream, err := s.envd.proc.Start(stopCtx, s.startRequest(req))
	if err != nil {
		// Without an answer the process may have started all the same:
		// it is killed by its tag (envd answers NOT_FOUND if not).
		s.kill(ctx, sel)
		return res(), s.runError(runCtx, "start process", err, context.Cause(stopCtx))
	}
	defer stream.Close()
	for stream.Receive() {
		ev := stream.Msg().GetEvent()
		switch {
		case ev.GetStart() != nil:
			sel = &process.ProcessSelector{Selector: &process.ProcessSelector_Pid{Pid: ev.GetStart().GetPid()}}
			if withStdin {
				// Not waited for: a reader that blocks must not hold the
				// run (the feeder stops at its next read).
				go func(sel *process.ProcessSelector) {
					if err := s.feed(stopCtx, sel, opts.Stdin); err != nil && stopCtx.Err() == nil {
						stop(fmt.Errorf("standard input: %w", err))
					}
				}(sel)
			}
		case ev.GetData() != nil:
			d := ev.GetData()
			if b := d.GetStdout(); len(b) > 0 {
				_, _ = stdout.Write(b)
			}
			if b := d.GetStderr(); len(b) > 0 {
				_, _ = stderr.Write(b)
			}
		case ev.GetEnd() != nil:
			stop(nil) // ends the input feeder
			r := res()
			r.ExitCode = int(ev.GetEnd().GetExitCode())
			if cause := context.Cause(stopCtx); cause != nil && !errors.Is(cause, context.Canceled) {
				// An output writer failed: the program was stopped for it.
				return r, fmt.Errorf("e2b: exec: %w", cause)
			}
			return r, nil
		}
		if stopCtx.Err() != nil {
			break
		}
	}
	// The stream ended without an end event: a timeout, the caller gone, a
	// failed output writer, or the connection lost. The process may still
	// run: kill it.
	s.kill(ctx, sel)
	return res(), s.runError(runCtx, "process stream", stream.Err(), context.Cause(stopCtx))
}

// runError classifies the end of a run that had no end event.
func (s *Sandbox) runError(runCtx context.Context, op string, err, stopCause error) error {
	if errors.Is(context.Cause(runCtx), errExecTimeout) {
		return &computemw.Error{Code: computemw.CodeTimeout, Message: "execution timed out", Err: err}
	}
	if runCtx.Err() != nil {
		return fmt.Errorf("e2b: %s: %w", op, runCtx.Err())
	}
	if stopCause != nil && !errors.Is(stopCause, context.Canceled) {
		return fmt.Errorf("e2b: %s: %w", op, stopCause)
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	if vendorhttp.Permanent(err) {
		return refusedError(op, err)
	}
	if connect.CodeOf(err) == connect.CodeUnknown || connect.CodeOf(err) == connect.CodeInternal {
		return &computemw.Error{Code: computemw.CodeUnavailable, Message: "provider e2b lost the process", Err: fmt.Errorf("e2b: %s: %w", op, err)}
	}
	return classifyConnect(op, err)
}

// kill sends SIGKILL to a process, detached from the caller's end.
func (s *Sandbox) kill(ctx context.Context, sel *process.ProcessSelector) {
	kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, err := s.envd.proc.SendSignal(kctx, connect.NewRequest(&process.SendSignalRequest{Process: sel, Signal: process.Signal_SIGNAL_SIGKILL}))
	if err != nil && connect.CodeOf(err) != connect.CodeNotFound {
		s.p.opts.Logger.Warn("e2b: killing a process", "sandbox", s.id, "err", err)
	}
}

// feed sends r to the process's standard input in chunks, then closes it.
// The run does not wait for a reader that blocks: feed gives up as soon as
// ctx ends and the read returns.
func (s *Sandbox) feed(ctx context.Context, sel *process.ProcessSelector, r io.Reader) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if ctx.Err() != nil {
			return nil
		}
		if n > 0 {
			in := &process.ProcessInput{Input: &process.ProcessInput_Stdin{Stdin: bytes.Clone(buf[:n])}}
			if _, serr := s.envd.proc.SendInput(ctx, connect.NewRequest(&process.SendInputRequest{Process: sel, Input: in})); serr != nil {
				if gone(serr) {
					return nil // the program ended without reading it all
				}
				return classifyConnect("send input", serr)
			}
		}
		if errors.Is(err, io.EOF) {
			_, cerr := s.envd.proc.CloseStdin(ctx, connect.NewRequest(&process.CloseStdinRequest{Process: sel}))
			if cerr != nil && !gone(cerr) {
				return classifyConnect("close input", cerr)
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// gone reports an envd answer that the process has ended.
func gone(err error) bool {
	c := connect.CodeOf(err)
	return c == connect.CodeNotFound || c == connect.CodeFailedPrecondition
}

package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/emptypb"
	processv1 "sigs.k8s.io/agent-sandbox/packages/sandboxd/spec/process/v1"

	"github.com/computemw/kit/computemw"
)

// interpreters run RunCode's languages: the program is passed as an
// argument (no shell reads it), its arguments after it.
var interpreters = map[string][]string{
	"python":     {"python3", "-c"},
	"python3":    {"python3", "-c"},
	"py":         {"python3", "-c"},
	"javascript": {"node", "-e"},
	"js":         {"node", "-e"},
	"node":       {"node", "-e"},
	"bash":       {"bash", "-c"},
	"sh":         {"sh", "-c"},
}

// stdinChunk is the most stdin one WriteStdin call carries.
const stdinChunk = 64 << 10

// Exec implements computemw.Sandbox: sh -c command, through sandboxd's
// ProcessService (Start, streamed output; WriteStdin for input).
func (s *Sandbox) Exec(ctx context.Context, command string, opts computemw.ExecOptions) (*computemw.Result, error) {
	return s.run(ctx, []string{"sh", "-c", command}, opts)
}

// RunCode implements computemw.Sandbox: the language's interpreter with
// the code as an argument.
func (s *Sandbox) RunCode(ctx context.Context, language, code string, opts computemw.ExecOptions) (*computemw.Result, error) {
	in, ok := interpreters[language]
	if !ok {
		return nil, computemw.Errorf(computemw.CodeExecution, "language %q is not supported by provider kubernetes", language)
	}
	argv := append(append([]string{}, in...), code)
	if len(opts.Args) > 0 {
		if in[0] == "sh" || in[0] == "bash" {
			argv = append(argv, language) // $0
		}
		argv = append(argv, opts.Args...)
	}
	return s.run(ctx, argv, opts)
}

// outgoing adds the routing metadata to a process call.
func (s *Sandbox) outgoing(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx,
		strings.ToLower(HeaderSandboxID), s.sandboxName,
		strings.ToLower(HeaderSandboxNamespace), s.p.opts.Namespace)
}

// config is a process's configuration.
func (s *Sandbox) config(argv []string, cwd string, env map[string]string) (*processv1.ProcessConfig, error) {
	c := &processv1.ProcessConfig{Command: argv, EnvVars: env}
	if cwd != "" {
		dir, err := s.resolve(cwd)
		if err != nil {
			return nil, err
		}
		if dir != "." {
			c.Cwd = &dir
		}
	}
	return c, nil
}

func (s *Sandbox) run(ctx context.Context, argv []string, opts computemw.ExecOptions) (*computemw.Result, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	cfg, err := s.config(argv, opts.Cwd, opts.Env)
	if err != nil {
		return nil, err
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = s.p.opts.ExecTimeout
	}
	limit := opts.MaxOutputBytes
	if limit <= 0 {
		limit = s.p.opts.MaxOutputBytes
	}
	s.executions.Add(1)
	if s.pe != nil {
		return s.runPod(ctx, argv, opts, timeout, limit)
	}
	start := time.Now()
	runCtx, cancel := context.WithTimeout(s.outgoing(ctx), timeout)
	defer cancel()
	stream, err := s.proc.Start(runCtx, &processv1.StartRequest{Config: cfg})
	if err != nil {
		return nil, s.runError(ctx, "start", err, timeout)
	}
	first, err := stream.Recv()
	if err != nil {
		return nil, s.runError(ctx, "start", err, timeout)
	}
	init := first.GetInit()
	if init == nil {
		return nil, computemw.Errorf(computemw.CodeUnavailable, "the sandbox daemon started a process without an init event")
	}
	pid := init.GetProcessId()
	c := &capture{limit: limit, stdout: opts.Stdout, stderr: opts.Stderr}

	// The pump ends when the reader does: a reader that outlives the
	// process (a connection's input) is the caller's to close, and the
	// pump's calls fail at once once runCtx is done.
	stdinErr := make(chan error, 1)
	go func() {
		err := s.pumpStdin(runCtx, pid, opts.Stdin)
		if err != nil {
			cancel() // a program whose input failed is stopped
		}
		stdinErr <- err
	}()
	exit, recvErr := c.recv(stream)
	if recvErr != nil {
		s.kill(ctx, pid)
	}
	cancel()
	res := c.result()
	res.ExecutionTime = time.Since(start)
	if recvErr == nil {
		res.ExitCode = exit
		return res, nil
	}
	res.ExitCode = -1
	var we writerError
	if errors.As(recvErr, &we) {
		return res, computemw.Errorf(computemw.CodeClientClosed, "output stopped: %v", we.err)
	}
	select {
	case err := <-stdinErr:
		if err != nil && ctx.Err() == nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			return res, err
		}
	default:
	}
	return res, s.runError(ctx, "stream", recvErr, timeout)
}

// runError classifies an error of a running process: the execution's
// timeout, the caller's cancellation, or the daemon's failure.
func (s *Sandbox) runError(ctx context.Context, op string, err error, timeout time.Duration) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	e := grpcError(op, err)
	if errors.Is(e, context.DeadlineExceeded) || errors.Is(e, computemw.ErrTimeout) {
		return &computemw.Error{Code: computemw.CodeTimeout, Message: fmt.Sprintf("execution timed out after %s", timeout), Err: err}
	}
	return e
}

// kill ends a process group that outlived its execution (a timeout, a
// stopped stream), bounded by a few seconds.
func (s *Sandbox) kill(ctx context.Context, pid int32) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.outgoing(ctx)), 5*time.Second)
	defer cancel()
	_, _ = s.proc.SendSignal(ctx, &processv1.SendSignalRequest{ProcessId: pid, Signal: processv1.Signal_SIGNAL_SIGKILL})
}

// pumpStdin sends r to the process in chunks, then EOF. A nil r sends EOF
// at once, so a program reading stdin ends. Only a failing reader is an
// error; the program's end stops the pump quietly.
func (s *Sandbox) pumpStdin(ctx context.Context, pid int32, r io.Reader) error {
	if r != nil {
		buf := make([]byte, stdinChunk)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				in := append([]byte(nil), buf[:n]...)
				req := &processv1.WriteStdinRequest{ProcessId: pid, Payload: &processv1.WriteStdinRequest_Input{Input: in}}
				if _, werr := s.proc.WriteStdin(ctx, req); werr != nil {
					// The program is gone or stopped reading (as EPIPE
					// would say): its stream tells how it ended.
					return nil
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return computemw.Errorf(computemw.CodeBadRequest, "reading stdin: %v", err)
			}
		}
	}
	req := &processv1.WriteStdinRequest{ProcessId: pid, Payload: &processv1.WriteStdinRequest_Eof{Eof: &emptypb.Empty{}}}
	_, _ = s.proc.WriteStdin(ctx, req)
	return nil
}

// capture keeps a process's output up to a limit and streams it.
type capture struct {
	limit          int64
	stdout, stderr io.Writer
	out, err       strings.Builder
	truncated      bool
}

// writerError is a streaming writer's failure: it stops the program.
type writerError struct{ err error }

func (e writerError) Error() string { return e.err.Error() }

// recv reads the stream to its exit event.
func (c *capture) recv(stream processv1.ProcessService_StartClient) (int, error) {
	for {
		ev, err := stream.Recv()
		if err != nil {
			if err == io.EOF {
				return 0, errors.New("the stream ended without an exit event")
			}
			return 0, err
		}
		switch e := ev.GetEvent().(type) {
		case *processv1.StartResponse_Stdout:
			if err := c.add(&c.out, c.stdout, e.Stdout); err != nil {
				return 0, err
			}
		case *processv1.StartResponse_Stderr:
			if err := c.add(&c.err, c.stderr, e.Stderr); err != nil {
				return 0, err
			}
		case *processv1.StartResponse_Exit:
			return int(e.Exit.GetExitCode()), nil
		}
	}
}

func (c *capture) add(b *strings.Builder, w io.Writer, p []byte) error {
	room := c.limit - int64(b.Len())
	keep := p
	if int64(len(keep)) > room {
		keep = keep[:max(room, 0)]
		c.truncated = true
	}
	b.Write(keep)
	if w != nil && len(p) > 0 {
		if _, err := w.Write(p); err != nil {
			return writerError{err}
		}
	}
	return nil
}

func (c *capture) result() *computemw.Result {
	return &computemw.Result{Stdout: c.out.String(), Stderr: c.err.String(), Truncated: c.truncated}
}

// sortedKeys are m's keys in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

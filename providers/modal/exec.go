package modal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/computemw/kit/computemw"
)

// Exec implements computemw.Sandbox: the command runs as `sh -c command`
// through Modal's command router, in the working directory (or
// ExecOptions.Cwd below it) with ExecOptions.Env. Stdout and stderr
// stream to ExecOptions.Stdout/Stderr as they arrive; ExecOptions.Stdin
// is streamed to the program and closed at its end.
func (s *Sandbox) Exec(ctx context.Context, command string, opts computemw.ExecOptions) (*computemw.Result, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	s.executions.Add(1)
	return s.run(ctx, []string{"sh", "-c", command}, opts)
}

// RunCode implements computemw.Sandbox for the interpreters of
// Languages: the program is passed as an argument (python3 -c, sh -c,
// bash -c).
func (s *Sandbox) RunCode(ctx context.Context, language, code string, opts computemw.ExecOptions) (*computemw.Result, error) {
	argv, ok := languages[language]
	if !ok {
		return nil, &computemw.Error{Code: computemw.CodeExecution, Message: fmt.Sprintf("unsupported language %q", language),
			Details: map[string]any{"languages": s.p.Languages()}}
	}
	if err := s.alive(); err != nil {
		return nil, err
	}
	s.executions.Add(1)
	return s.run(ctx, append(append([]string(nil), argv...), code), opts)
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// run starts argv and follows it to its end, its timeout, or ctx's end.
// Modal has no call that ends one command: the command is started with
// the timeout (rounded up to whole seconds), after which Modal ends it,
// and destroying the sandbox ends it sooner.
func (s *Sandbox) run(ctx context.Context, argv []string, opts computemw.ExecOptions) (*computemw.Result, error) {
	start := time.Now()
	cwd, err := s.resolve(opts.Cwd)
	if err != nil {
		return nil, err
	}
	for k := range opts.Env {
		if !envName.MatchString(k) {
			return nil, computemw.Errorf(computemw.CodeBadRequest, "invalid environment variable name %q", k)
		}
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = s.p.opts.ExecTimeout
	}
	limit := opts.MaxOutputBytes
	if limit <= 0 {
		limit = s.p.opts.MaxOutputBytes
	}
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	proc, err := s.remote.exec(runCtx, argv, sdkExec{Workdir: cwd, Env: opts.Env, Timeout: timeout})
	if err != nil {
		err = classify(runCtx, "exec", err)
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return &computemw.Result{ExitCode: -1, ExecutionTime: time.Since(start)}, timeoutError(timeout, err)
		}
		return nil, err
	}

	var wg sync.WaitGroup
	if opts.Stdin != nil {
		// Not waited for: the caller's reader may block until the caller
		// ends it; the pump stops at its first read or write after that.
		go pumpStdin(runCtx, proc.Stdin, opts.Stdin)
	} else {
		_ = proc.Stdin.Close() // the program sees the end of its input
	}
	out := &capture{limit: limit, spill: 8*limit + 1<<20}
	overflow := make(chan struct{})
	var once sync.Once
	read := func(r io.ReadCloser, keep *strings.Builder, w io.Writer) {
		defer wg.Done()
		if err := out.copy(r, keep, w); errors.Is(err, errOverflow) {
			once.Do(func() { close(overflow) })
		}
	}
	wg.Add(2)
	go read(proc.Stdout, &out.out, opts.Stdout)
	go read(proc.Stderr, &out.err, opts.Stderr)

	type waited struct {
		code int
		err  error
	}
	exited := make(chan waited, 1)
	go func() { c, err := proc.wait(runCtx); exited <- waited{c, err} }()

	finish := func() *computemw.Result {
		// Closing the readers ends their streams; the readers return.
		proc.Stdout.Close()
		proc.Stderr.Close()
		cancel()
		wg.Wait()
		<-exited
		res := out.result()
		res.ExecutionTime = time.Since(start)
		return res
	}
	select {
	case w := <-exited:
		exited <- w
		if w.err != nil {
			res := finish()
			res.ExitCode = -1
			err := classify(runCtx, "exec wait", w.err)
			if ctx.Err() == nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, computemw.ErrTimeout)) {
				return res, timeoutError(timeout, err)
			}
			return res, err
		}
		// The output is complete once both streams have ended.
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-runCtx.Done():
		case <-overflow:
		}
		stopped := runCtx.Err() != nil
		res := finish()
		res.ExitCode = w.code
		if isOverflow(overflow) {
			return res, overflowError(limit)
		}
		if stopped && ctx.Err() == nil {
			return res, timeoutError(timeout, runCtx.Err())
		}
		if stopped {
			return res, fmt.Errorf("modal exec: %w", ctx.Err())
		}
		return res, nil
	case <-overflow:
		res := finish()
		res.ExitCode = -1
		return res, overflowError(limit)
	case <-runCtx.Done():
		res := finish()
		res.ExitCode = -1
		if ctx.Err() != nil {
			return res, fmt.Errorf("modal exec: %w", ctx.Err())
		}
		return res, timeoutError(timeout, runCtx.Err())
	}
}

func isOverflow(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func timeoutError(timeout time.Duration, err error) error {
	return &computemw.Error{Code: computemw.CodeTimeout, Message: fmt.Sprintf("execution timed out after %s", timeout), Err: err}
}

func overflowError(limit int64) error {
	return computemw.Errorf(computemw.CodeResource, "output limit exceeded: the program wrote far more than %d bytes", limit)
}

// pumpStdin streams the caller's stdin to the program and closes it at
// its end (or when the command ends).
func pumpStdin(ctx context.Context, w io.WriteCloser, r io.Reader) {
	buf := make([]byte, 64<<10)
	for ctx.Err() == nil {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			break
		}
	}
	if ctx.Err() == nil {
		_ = w.Close()
	}
}

var errOverflow = errors.New("output over the spill limit")

// capture keeps a command's output up to the limit and streams what it
// keeps to the caller's writers; output past the limit is read and
// dropped up to spill bytes in all, past which the command is given up.
type capture struct {
	limit, spill int64

	mu        sync.Mutex
	out, err  strings.Builder
	seen      int64
	truncated bool
}

func (c *capture) copy(r io.Reader, keep *strings.Builder, w io.Writer) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if werr := c.add(buf[:n], keep, w); werr != nil {
				return werr
			}
		}
		if err != nil {
			return nil // EOF, or the stream closed or broken: the wait decides
		}
	}
}

func (c *capture) add(p []byte, keep *strings.Builder, w io.Writer) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen += int64(len(p))
	if room := c.limit - int64(keep.Len()); int64(len(p)) > room {
		p = p[:max(room, 0)]
		c.truncated = true
	}
	if len(p) > 0 {
		keep.Write(p)
		if w != nil {
			_, _ = w.Write(p)
		}
	}
	if c.seen > c.spill {
		return errOverflow
	}
	return nil
}

func (c *capture) result() *computemw.Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	return &computemw.Result{Stdout: c.out.String(), Stderr: c.err.String(), Truncated: c.truncated}
}

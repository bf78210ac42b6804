//go:build linux

package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"syscall"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/internal/textstream"
	"github.com/computemw/kit/providers/local/internal/cgroups"
)

// runIsolated runs argv as a process of its own under bwrap, with the
// sandbox's profile changed by adjust: a compile step (its own build
// directory, cgroup and environment) or a runtime that needs host
// directories the sandbox's init does not have. It is how every
// execution ran before sandboxes had an init, and it keeps every measure
// of the profile; it costs a new set of namespaces per execution.
func (s *sandbox) runIsolated(ctx context.Context, argv []string, cwd string, opts computemw.ExecOptions, adjust func(*profile)) (*computemw.Result, error) {
	timeout := s.timeLimit(opts.Timeout)
	pr, err := s.buildProfile(argv, cwd, opts.Env)
	if err != nil {
		return nil, err
	}
	// The sandbox's init is PID 1 of its own namespace; this process
	// gets bwrap's reaper instead.
	pr.ownInit = false
	adjust(pr)
	maxOut := opts.MaxOutputBytes
	if maxOut <= 0 {
		maxOut = s.p.cfg.MaxOutputBytes
	}
	stdout := textstream.NewCapped(maxOut)
	stderr := textstream.NewCapped(maxOut)

	l, err := s.p.iso.prepare(pr)
	if err != nil {
		return nil, err
	}
	cmd := l.cmd
	runCtx, cancelRun := context.WithCancelCause(ctx)
	defer cancelRun(nil)
	limitCtx, cancelLimit := context.WithTimeoutCause(runCtx, timeout, errTimeLimit)
	defer cancelLimit()
	stdin, err := feedStdin(cmd, opts.Stdin)
	if err != nil {
		l.close()
		return nil, err
	}
	defer stdin.Close()
	cmd.Stdout = textstream.Tee(stdout, opts.Stdout, cancelRun)
	cmd.Stderr = textstream.Tee(stderr, opts.Stderr, cancelRun)
	if opts.MergeStderr {
		// The same writer: exec gives the program one pipe for both.
		cmd.Stderr = cmd.Stdout
	}
	if err := s.begin(cmd); err != nil {
		l.close()
		return nil, err
	}
	defer s.end(cmd)

	var before cgroups.Counters
	cg := pr.cgroup
	if cg != nil {
		before = cg.Read()
		if s.active.Add(1) == 1 || cg != s.cg {
			cg.ResetPeak()
		}
		defer s.active.Add(-1)
	}

	start := time.Now()
	if _, err := s.spawn(limitCtx, l, cg); err != nil {
		switch {
		case errors.Is(context.Cause(limitCtx), errTimeLimit):
			return nil, &computemw.Error{Code: computemw.CodeTimeout, Message: fmt.Sprintf("execution exceeded its time limit of %s while starting", timeout)}
		case runCtx.Err() != nil:
			return nil, fmt.Errorf("local: execution stopped: %w", context.Cause(runCtx))
		}
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var stopped bool
	var waitErr error
	select {
	case waitErr = <-done:
	case <-limitCtx.Done():
		stopped = true
		killTree(cmd)
		waitErr = <-done
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return s.isolatedResult(exitCode(cmd.ProcessState, waitErr), ru, waitErr, stdout, stderr, start, cg, before, stopped, runCtx, limitCtx, timeout)
}

// isolatedResult is the result of an execution that ran as the first
// process of a bwrap process of its own (runIsolated, runHeld) and ended
// with status code, bwrap's rusage ru (nil when bwrap's end was not
// waited for) and waitErr: its output, exit status, CPU time and peak
// memory, and the error of a limit that ended it or of its end by runCtx.
func (s *sandbox) isolatedResult(code int, ru *syscall.Rusage, waitErr error, stdout, stderr *textstream.Capped, start time.Time, cg cgroups.Group, before cgroups.Counters, stopped bool, runCtx, limitCtx context.Context, timeout time.Duration) (*computemw.Result, error) {
	timedOut := stopped && errors.Is(context.Cause(limitCtx), errTimeLimit)

	res := &computemw.Result{ExecutionTime: time.Since(start)}
	var tOut, tErr bool
	res.Stdout, tOut = stdout.Result()
	res.Stderr, tErr = stderr.Result()
	res.Truncated = tOut || tErr
	res.ExitCode = code
	if ru != nil {
		res.CPUTime = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		res.PeakMemory = int64(ru.Maxrss) << 10
	}
	after := s.measure(res, cg, before)
	if err := s.limitError(before, after, 0, timedOut, timeout); err != nil {
		return res, err
	}
	switch {
	case stopped || runCtx.Err() != nil:
		return res, fmt.Errorf("local: execution stopped: %w", context.Cause(runCtx))
	case res.ExitCode == 128+int(syscall.SIGXFSZ):
		return res, &computemw.Error{Code: computemw.CodeResource, Message: fmt.Sprintf("file size limit of %d bytes exceeded", s.p.cfg.MaxFileBytes)}
	}
	if waitErr != nil {
		var ee *exec.ExitError
		// ErrWaitDelay: the program exited (its status is known) but a
		// pipe stayed open past waitDelay while the kernel tore the
		// sandbox's namespaces down; what it wrote has been read.
		if !errors.As(waitErr, &ee) && !errors.Is(waitErr, exec.ErrWaitDelay) {
			return res, fmt.Errorf("local: wait: %w", waitErr)
		}
	}
	return res, nil
}

// feedStdin connects r to a bwrap process's standard input through a pipe
// that the caller closes once the program is gone; the run never waits
// for r (see newStreams).
func feedStdin(cmd *exec.Cmd, r io.Reader) (io.Closer, error) {
	if r == nil {
		return io.NopCloser(nil), nil
	}
	pw, pr, err := childPipe(true)
	if err != nil {
		return nil, fmt.Errorf("local: stdin pipe: %w", err)
	}
	cmd.Stdin = pr
	go func() {
		_, _ = io.Copy(pw, r)
		pw.Close()
	}()
	return closers{pr, pw}, nil
}

type closers []io.Closer

func (c closers) Close() error {
	for _, x := range c {
		_ = x.Close()
	}
	return nil
}

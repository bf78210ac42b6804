//go:build linux

package local

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/internal/textstream"
	"github.com/computemw/kit/providers/local/internal/cgroups"
	"golang.org/x/sys/unix"
)

// Exec implements computemw.Sandbox. A command without shell syntax runs
// without a shell in front of it when the sandbox's init starts it
// (direct.go); every other, and every first execution, runs under
// /bin/sh -c.
func (s *sandbox) Exec(ctx context.Context, command string, opts computemw.ExecOptions) (*computemw.Result, error) {
	shell := []string{"/bin/sh", "-c", command}
	if direct, ok := directArgv(command); ok {
		return s.runWithShell(ctx, direct, shell, opts)
	}
	return s.run(ctx, shell, opts)
}

// RunCode implements computemw.Sandbox. The program is written to the
// workspace (so that it can import files next to it) as main<ext>, the name
// its tracebacks show, and removed afterwards; when that name is taken (a
// file of the user's, or another run at the same time) it goes to a hidden
// file of its own instead.
func (s *sandbox) RunCode(ctx context.Context, language, code string, opts computemw.ExecOptions) (*computemw.Result, error) {
	rt, err := s.runtime(language)
	if err != nil {
		return nil, err
	}
	if rt, err = s.choose(rt, opts); err != nil {
		return nil, err
	}
	if rt.compiled() {
		return s.runCompiled(ctx, rt, code, opts)
	}
	name := rt.fileName()
	_, err = s.writeFile(ctx, name, strings.NewReader(code), unix.O_EXCL)
	if errors.Is(err, errExists) {
		name = newID(".computemw-main") + rt.Ext
		err = s.WriteFile(ctx, name, []byte(code))
	}
	if err != nil {
		return nil, err
	}
	defer func() { _ = s.root.Remove(name) }()
	argv := append(slices.Clone(rt.Command), s.inside(name))
	return s.runWith(ctx, append(argv, opts.Args...), opts, s.hostDirBinds(rt))
}

// choose applies a request's version and compile options to the runtime
// its language names.
func (s *sandbox) choose(rt *Runtime, opts computemw.ExecOptions) (*Runtime, error) {
	t := s.p.rt
	if s.tmpl != nil {
		t = s.tmpl.rt
	}
	rt, err := t.pick(rt, opts.Version)
	if err != nil {
		return nil, err
	}
	return withCompileOptions(rt, opts.CompileOptions)
}

// timeLimit is the wall-clock limit of one execution: what it asks for,
// else the provider's default, and never more than the sandbox's
// Resources.MaxExecutionTime or the provider's MaxExecTimeout.
func (s *sandbox) timeLimit(asked time.Duration) time.Duration {
	if asked <= 0 {
		asked = s.p.cfg.ExecTimeout
	}
	return min(asked, s.maxExec)
}

// errTimeLimit is the cause of an execution's context when its time limit
// ends it.
var errTimeLimit = errors.New("time limit")

// run executes argv in the sandbox — its first execution as a bwrap
// process of its own, later ones through its init — and waits for it,
// its time limit, or ctx. The time limit counts from before the process
// starts, so a start that hangs is bounded too.
func (s *sandbox) run(ctx context.Context, argv []string, opts computemw.ExecOptions) (*computemw.Result, error) {
	return s.runWith(ctx, argv, opts, nil)
}

// runWith is run with a change to the process's profile (a compile step's
// build directory, cgroup and environment; a runtime's host directories);
// adjust may be nil.
func (s *sandbox) runWith(ctx context.Context, argv []string, opts computemw.ExecOptions, adjust func(*profile)) (*computemw.Result, error) {
	return s.execute(ctx, argv, nil, opts, adjust)
}

// runWithShell runs direct, the words of a command without shell syntax,
// through the sandbox's init, and shell (/bin/sh -c and the command) when
// the execution is a bwrap process of its own or the init cannot start
// direct's program: the shell then reports why, as it always would.
func (s *sandbox) runWithShell(ctx context.Context, direct, shell []string, opts computemw.ExecOptions) (*computemw.Result, error) {
	return s.execute(ctx, direct, shell, opts, nil)
}

// execute is runWith and runWithShell: shell, when not nil, is the
// command's form for a bwrap process of its own and for a start of argv
// that fails. An execution takes one of three paths: a process of its own
// under bwrap when its profile differs from the sandbox's (runIsolated),
// the sandbox's first execution (runFirst), or a start by the sandbox's
// init (runInInit).
func (s *sandbox) execute(ctx context.Context, argv, shell []string, opts computemw.ExecOptions, adjust func(*profile)) (*computemw.Result, error) {
	s.p.executionStarted()
	defer s.p.executionDone()
	cwd, err := s.cwd(opts.Cwd)
	if err != nil {
		return nil, err
	}
	if err := checkArgv(argv); err != nil {
		return nil, err
	}
	release, err := s.enterGate(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer release()
	if s.cg != nil {
		// A caller's burst shares the CPUs at a small weight (best
		// effort: a weight the kernel refuses changes no result).
		_ = s.cg.SetBulk(s.p.gate.Crowded(opts.Caller))
	}
	switch {
	case adjust != nil:
		// A profile of its own: a process of its own, started by bwrap.
		isolated := argv
		if shell != nil {
			isolated = shell
		}
		return s.runIsolated(ctx, isolated, cwd, opts, adjust)
	case !s.hasInit() && s.executions.Load() == 0 && s.active.Load() == 0:
		return s.runFirst(ctx, argv, shell, cwd, opts)
	}
	return s.runInInit(ctx, argv, shell, cwd, opts)
}

// enterGate waits for the execution's turn to start: on busy CPUs,
// executions start a few at a time, the callers (opts.Caller) and within
// a caller the sandboxes taking turns (internal/startgate). The wait ends
// with ctx or the execution's time limit, whichever comes first.
func (s *sandbox) enterGate(ctx context.Context, opts computemw.ExecOptions) (func(), error) {
	if s.p.gate == nil {
		return func() {}, nil
	}
	timeout := s.timeLimit(opts.Timeout)
	wctx, cancel := context.WithTimeoutCause(ctx, timeout, errTimeLimit)
	defer cancel()
	release, err := s.p.gate.Enter(wctx, opts.Caller, s.id)
	switch {
	case err == nil:
		return release, nil
	case ctx.Err() == nil && errors.Is(context.Cause(wctx), errTimeLimit):
		return nil, &computemw.Error{Code: computemw.CodeTimeout, Message: fmt.Sprintf("execution exceeded its time limit of %s waiting to start", timeout)}
	}
	return nil, fmt.Errorf("local: waiting to start: %w", err)
}

// runFirst runs the sandbox's first execution: a bwrap process of its own
// is cheaper than starting the init, and a sandbox made for one request
// needs nothing more. A sandbox of the warm pool has that process
// waiting (held.go). A command without shell syntax runs without a shell
// where bwrap would start the program the shell finds (startsDirectly).
func (s *sandbox) runFirst(ctx context.Context, argv, shell []string, cwd string, opts computemw.ExecOptions) (*computemw.Result, error) {
	isolated := argv
	if shell != nil {
		isolated = shell
		if s.startsDirectly(argv, opts.Env) {
			s.p.stage("direct")
			isolated = argv
		}
	}
	if h := s.takeHeld(); h != nil {
		// A held shell's streams are made apart: one whose stderr is
		// merged into its stdout starts anew.
		if line, ok := s.heldLine(h, isolated, cwd, opts); ok && !opts.MergeStderr {
			s.p.stage("held")
			return s.runHeld(ctx, h, line, opts)
		}
		h.release()
	}
	return s.runIsolated(ctx, isolated, cwd, opts, func(*profile) {})
}

// runInInit runs an execution through the sandbox's init, which it starts
// first when it does not run yet: the init forks and execs argv (or
// shell, when argv's program cannot be started) with the execution's
// standard streams, and reports its exit once what it left is gone.
func (s *sandbox) runInInit(ctx context.Context, argv, shell []string, cwd string, opts computemw.ExecOptions) (*computemw.Result, error) {
	timeout := s.timeLimit(opts.Timeout)
	env, err := s.environ(opts.Env)
	if err != nil {
		return nil, err
	}
	maxOut := opts.MaxOutputBytes
	if maxOut <= 0 {
		maxOut = s.p.cfg.MaxOutputBytes
	}
	ip, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer s.leave()

	// A streaming client that fails (gone, too slow) stops the program:
	// runCtx ends the run like a cancelled request.
	runCtx, cancelRun := context.WithCancelCause(ctx)
	defer cancelRun(nil)
	limitCtx, cancelLimit := context.WithTimeoutCause(runCtx, timeout, errTimeLimit)
	defer cancelLimit()

	st, err := newStreams(opts.Stdin, opts.MergeStderr)
	if err != nil {
		return nil, err
	}
	defer st.close()
	stdout := textstream.NewCapped(maxOut)
	stderr := textstream.NewCapped(maxOut)

	var before cgroups.Counters
	if s.cg != nil {
		before = s.cg.Read()
		s.mu.Lock()
		if s.active.Add(1) == 1 {
			s.cg.ResetPeak()
		}
		s.mu.Unlock()
		defer s.active.Add(-1)
	}

	start := time.Now()
	first := env
	if shell != nil {
		// As the shell would have exported it.
		first = withPWD(env, cwd)
	}
	m := &initMsg{Argv: argv, Env: first, Dir: cwd}
	if shell != nil {
		m.Shell, m.ShellEnv = shell, env
	}
	id, exited, err := ip.launch(m, st.child()...)
	// The descriptors travel with the message: the pipes end when the
	// program and what it left are gone.
	st.closeChild()
	if err != nil {
		return nil, err
	}
	defer ip.done(id)
	copied := st.copyOutput(textstream.Tee(stdout, opts.Stdout, cancelRun), textstream.Tee(stderr, opts.Stderr, cancelRun))
	exit, stopped, lost, err := ip.await(limitCtx, id, exited)
	var se *startError
	if shell != nil && exit != nil && !exit.ViaShell {
		s.p.stage("direct")
	}
	if err != nil {
		st.drainWithin(copied, drainGrace)
		switch {
		case errors.Is(context.Cause(limitCtx), errTimeLimit):
			return nil, &computemw.Error{Code: computemw.CodeTimeout, Message: fmt.Sprintf("execution exceeded its time limit of %s while starting", timeout)}
		case runCtx.Err() != nil:
			return nil, fmt.Errorf("local: execution stopped: %w", context.Cause(runCtx))
		case errors.As(err, &se) && se.notFound:
			// As a shell reports a program it cannot find.
			return &computemw.Result{ExitCode: 127, Stderr: se.msg + "\n", ExecutionTime: time.Since(start)}, nil
		}
		return nil, fmt.Errorf("local: start: %w", err)
	}
	st.drainWithin(copied, drainGrace)
	timedOut := stopped && errors.Is(context.Cause(limitCtx), errTimeLimit)
	elapsed := time.Since(start)

	res := &computemw.Result{ExecutionTime: elapsed}
	var tOut, tErr bool
	res.Stdout, tOut = stdout.Result()
	res.Stderr, tErr = stderr.Result()
	res.Truncated = tOut || tErr
	res.ExitCode = -1
	if exit != nil {
		res.ExitCode = waitCode(syscall.WaitStatus(exit.Status))
		res.CPUTime = time.Duration(exit.CPU)
		res.PeakMemory = exit.MaxRSS
	}
	// The program's rusage misses what its descendants left to the init
	// to reap; the cgroup counts it (and executions of the same sandbox
	// running concurrently).
	after := s.measure(res, s.cg, before)
	if err := s.limitError(before, after, s.lim.MemoryBytes, timedOut, timeout); err != nil {
		return res, err
	}
	switch {
	case stopped || runCtx.Err() != nil:
		return res, fmt.Errorf("local: execution stopped: %w", context.Cause(runCtx))
	case lost:
		return res, fmt.Errorf("local: execution stopped: %w", ip.gone())
	case res.ExitCode == 128+int(syscall.SIGXFSZ):
		return res, &computemw.Error{Code: computemw.CodeResource, Message: fmt.Sprintf("file size limit of %d bytes exceeded", s.p.cfg.MaxFileBytes)}
	}
	return res, nil
}

// withPWD sets PWD in a sorted environment to dir, as /bin/sh does for
// the programs it starts.
func withPWD(env []string, dir string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, "PWD=") {
			out = append(out, kv)
		}
	}
	out = append(out, "PWD="+dir)
	slices.Sort(out)
	return out
}

// waitCode is a program's exit status, with 128+signal for a signal.
func waitCode(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// checkArgv refuses arguments no program can receive.
func checkArgv(argv []string) error {
	for _, a := range argv {
		if strings.IndexByte(a, 0) >= 0 {
			return computemw.Errorf(computemw.CodeBadRequest, "the command contains a NUL byte")
		}
	}
	return nil
}

// cwd resolves the working directory of an execution inside the workspace.
func (s *sandbox) cwd(dir string) (string, error) {
	if dir == "" {
		return s.inside("."), nil
	}
	rel, err := s.rel(dir)
	if err != nil {
		return "", err
	}
	fi, err := s.root.Stat(rel)
	if err != nil {
		return "", s.fsError(dir, err)
	}
	if !fi.IsDir() {
		return "", computemw.Errorf(computemw.CodeBadRequest, "cwd %q is not a directory", dir)
	}
	return s.inside(rel), nil
}

// measure completes an execution's result from its cgroup (CPU time since
// before, peak memory) and adds it to the sandbox's usage; it returns the
// cgroup's readings after the execution (zero without a cgroup).
func (s *sandbox) measure(res *computemw.Result, cg cgroups.Group, before cgroups.Counters) cgroups.Counters {
	var after cgroups.Counters
	if cg != nil {
		after = cg.Read()
		if after.Peak > 0 {
			res.PeakMemory = after.Peak
		}
		if d := after.CPU - before.CPU; d > res.CPUTime {
			res.CPUTime = d
		}
	}
	s.executions.Add(1)
	s.cpu.Add(int64(res.CPUTime))
	for {
		old := s.peak.Load()
		if res.PeakMemory <= old || s.peak.CompareAndSwap(old, res.PeakMemory) {
			break
		}
	}
	return after
}

// limitError is the error of an execution that a limit ended — memory
// (of memoryBytes, 0 when unknown here), processes, its time limit — or
// nil.
func (s *sandbox) limitError(before, after cgroups.Counters, memoryBytes int64, timedOut bool, timeout time.Duration) error {
	switch {
	case after.OOMKills > before.OOMKills:
		if memoryBytes == 0 {
			return &computemw.Error{Code: computemw.CodeResource, Message: "memory limit exceeded"}
		}
		return &computemw.Error{Code: computemw.CodeResource, Message: fmt.Sprintf("memory limit of %d MB exceeded", memoryBytes>>20)}
	case after.PidsMax > before.PidsMax:
		return &computemw.Error{Code: computemw.CodeResource, Message: fmt.Sprintf("process limit of %d exceeded", s.lim.Pids)}
	case timedOut:
		return &computemw.Error{Code: computemw.CodeTimeout, Message: fmt.Sprintf("execution exceeded its time limit of %s", timeout)}
	}
	return nil
}

package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/computemw/kit/computemw"
	"golang.org/x/sys/unix"
)

// The uid and gid of sandboxed processes, as seen inside the sandbox.
const (
	sandboxUID = 1000
	sandboxGID = 1000
)

// workspaceDir is where a sandbox sees its workspace.
const workspaceDir = "/workspace"

// sandbox is one local sandbox: a workspace, a cgroup and a profile.
type sandbox struct {
	p       *Provider
	id      string
	ws      string // host path of the workspace
	mounted bool   // ws is a tmpfs of its own
	root    *os.Root
	cg      group // nil without cgroups
	env     map[string]string
	network bool
	lim     limits

	mu        sync.Mutex
	destroyed bool
	runs      map[*exec.Cmd]bool // true once started: Destroy may kill it
	wg        sync.WaitGroup

	once       sync.Once
	destroyErr error

	cpu        atomic.Int64 // nanoseconds, summed over executions
	peak       atomic.Int64
	executions atomic.Int64
}

// Create implements computemw.Provider.
func (p *Provider) Create(ctx context.Context, opts computemw.CreateOptions) (computemw.Sandbox, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if opts.Network && !p.cfg.AllowNetwork {
		return nil, &computemw.Error{Code: computemw.CodeForbidden, Message: "network access is disabled for sandboxes"}
	}
	if opts.Template != "" {
		if _, err := p.runtime(opts.Template); err != nil {
			return nil, err
		}
	}
	for k := range opts.Env {
		if k == "" || containsAny(k, "=\x00") {
			return nil, computemw.Errorf(computemw.CodeBadRequest, "env: invalid variable name %q", k)
		}
	}
	sb := &sandbox{
		p:       p,
		id:      newID("sb"),
		env:     maps.Clone(opts.Env),
		network: opts.Network,
		lim:     p.limitsFor(opts.Resources),
		runs:    map[*exec.Cmd]bool{},
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, &computemw.Error{Code: computemw.CodeUnavailable, Message: "local provider is closed"}
	}
	p.sandboxes[sb.id] = sb
	p.mu.Unlock()

	if err := sb.provision(); err != nil {
		_ = sb.Destroy(context.WithoutCancel(ctx))
		return nil, err
	}
	return sb, nil
}

// provision makes the workspace and the cgroup. Destroy undoes whatever
// part of it succeeded.
func (s *sandbox) provision() error {
	s.ws = filepath.Join(s.p.dir, s.id)
	if err := os.Mkdir(s.ws, 0o700); err != nil {
		return fmt.Errorf("local: workspace: %w", err)
	}
	if s.p.tmpfsWS {
		if err := s.p.mountWorkspace(s.ws); err != nil {
			return fmt.Errorf("local: workspace: %w", err)
		}
		s.mounted = true
	}
	if s.p.rootUser && !s.p.cfg.InsecureNoNamespaces {
		if err := os.Chown(s.ws, s.p.cfg.HostUID, s.p.cfg.HostGID); err != nil {
			return fmt.Errorf("local: workspace: %w", err)
		}
	}
	root, err := os.OpenRoot(s.ws)
	if err != nil {
		return fmt.Errorf("local: workspace: %w", err)
	}
	s.root = root
	if s.p.cg != nil {
		g, err := s.p.cg.create(s.p.cgroupRel(s.id), s.lim)
		if err != nil {
			return fmt.Errorf("local: %w", err)
		}
		s.cg = g
	}
	return nil
}

// limitsFor clamps requested resources to the provider's maximum.
func (p *Provider) limitsFor(r computemw.Resources) limits {
	l := limits{
		memoryBytes: int64(p.cfg.MemoryMB) << 20,
		pids:        int64(p.cfg.MaxProcesses),
		cpuCores:    p.cfg.CPUCores,
	}
	if r.MemoryMB > 0 && int64(r.MemoryMB)<<20 < l.memoryBytes {
		l.memoryBytes = int64(r.MemoryMB) << 20
	}
	if r.MaxProcesses > 0 && int64(r.MaxProcesses) < l.pids {
		l.pids = int64(r.MaxProcesses)
	}
	if r.CPUCores > 0 && r.CPUCores < l.cpuCores {
		l.cpuCores = r.CPUCores
	}
	return l
}

func (p *Provider) runtime(language string) (*Runtime, error) {
	rt, ok := p.rt.byName[language]
	if !ok {
		return nil, &computemw.Error{
			Code:    computemw.CodeExecution,
			Message: fmt.Sprintf("unsupported language %q", language),
			Details: map[string]any{"supported": p.rt.names()},
		}
	}
	if !p.rt.available[rt.Name] {
		return nil, computemw.Errorf(computemw.CodeExecution, "the %s runtime is not installed on this host", rt.Name)
	}
	return rt, nil
}

// ID implements computemw.Sandbox.
func (s *sandbox) ID() string { return s.id }

// Provider implements computemw.Sandbox.
func (s *sandbox) Provider() string { return Name }

// Exec implements computemw.Sandbox.
func (s *sandbox) Exec(ctx context.Context, command string, opts computemw.ExecOptions) (*computemw.Result, error) {
	return s.run(ctx, []string{"/bin/sh", "-c", command}, opts)
}

// RunCode implements computemw.Sandbox. The program is written to a hidden
// file in the workspace (so that it can import files next to it) and
// removed afterwards.
func (s *sandbox) RunCode(ctx context.Context, language, code string, opts computemw.ExecOptions) (*computemw.Result, error) {
	rt, err := s.p.runtime(language)
	if err != nil {
		return nil, err
	}
	name := newID(".computemw-main") + rt.Ext
	if err := s.WriteFile(ctx, name, []byte(code)); err != nil {
		return nil, err
	}
	defer func() { _ = s.root.Remove(name) }()
	argv := append(slices.Clone(rt.Command), s.inside(name))
	return s.run(ctx, argv, opts)
}

// inside maps a workspace-relative path to the path a sandboxed process
// sees.
func (s *sandbox) inside(rel string) string {
	if s.p.cfg.InsecureNoNamespaces {
		return filepath.Join(s.ws, rel)
	}
	return filepath.Join(workspaceDir, rel)
}

func (s *sandbox) begin(cmd *exec.Cmd) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.destroyed {
		return computemw.Errorf(computemw.CodeNotFound, "sandbox %s was destroyed", s.id)
	}
	s.runs[cmd] = false
	s.wg.Add(1)
	return nil
}

// started records that cmd runs, so that Destroy kills it; when Destroy
// came first, it kills cmd at once.
func (s *sandbox) started(cmd *exec.Cmd) {
	s.mu.Lock()
	s.runs[cmd] = true
	dead := s.destroyed
	s.mu.Unlock()
	if dead {
		killTree(cmd)
	}
}

func (s *sandbox) end(cmd *exec.Cmd) {
	s.mu.Lock()
	delete(s.runs, cmd)
	s.mu.Unlock()
	s.wg.Done()
}

// run executes argv in the sandbox and waits for it, its timeout, or ctx.
func (s *sandbox) run(ctx context.Context, argv []string, opts computemw.ExecOptions) (*computemw.Result, error) {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = s.p.cfg.ExecTimeout
	}
	timeout = min(timeout, s.p.cfg.MaxExecTimeout)
	cwd, err := s.cwd(opts.Cwd)
	if err != nil {
		return nil, err
	}
	for k, v := range opts.Env {
		if k == "" || containsAny(k, "=\x00") || containsAny(v, "\x00") {
			return nil, computemw.Errorf(computemw.CodeBadRequest, "env: invalid variable %q", k)
		}
	}
	maxOut := opts.MaxOutputBytes
	if maxOut <= 0 {
		maxOut = s.p.cfg.MaxOutputBytes
	}
	stdout := &cappedBuffer{max: maxOut}
	stderr := &cappedBuffer{max: maxOut}

	cmd, ps, err := s.command(argv, cwd, s.environ(opts.Env))
	if err != nil {
		return nil, err
	}
	// A streaming client that fails (gone, too slow) stops the program:
	// runCtx ends the run like a cancelled request.
	runCtx, cancelRun := context.WithCancelCause(ctx)
	defer cancelRun(nil)
	stdin, err := feedStdin(cmd, opts.Stdin)
	if err != nil {
		ps.close()
		return nil, err
	}
	defer stdin.Close()
	cmd.Stdout = tee(stdout, opts.Stdout, cancelRun)
	cmd.Stderr = tee(stderr, opts.Stderr, cancelRun)
	if err := s.begin(cmd); err != nil {
		ps.close()
		return nil, err
	}
	defer s.end(cmd)

	var before counters
	if s.cg != nil {
		before = s.cg.read()
		s.mu.Lock()
		if len(s.runs) == 1 {
			s.cg.resetPeak()
		}
		s.mu.Unlock()
	}

	start := time.Now()
	if err := s.start(cmd, ps); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var timedOut bool
	var waitErr error
	select {
	case waitErr = <-done:
	case <-timer.C:
		timedOut = true
		killTree(cmd)
		waitErr = <-done
	case <-runCtx.Done():
		killTree(cmd)
		waitErr = <-done
	}
	elapsed := time.Since(start)

	res := &computemw.Result{ExecutionTime: elapsed}
	var tOut, tErr bool
	res.Stdout, tOut = stdout.result()
	res.Stderr, tErr = stderr.result()
	res.Truncated = tOut || tErr
	res.ExitCode = exitCode(cmd.ProcessState, waitErr)
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru != nil {
		res.CPUTime = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		res.PeakMemory = ru.Maxrss << 10
	}
	var after counters
	if s.cg != nil {
		after = s.cg.read()
		if after.peak > 0 {
			res.PeakMemory = after.peak
		}
		// bwrap's monitor learns the exit status from the sandbox's init
		// through an eventfd and exits without reaping it, so cmd's rusage
		// misses the program's CPU time; the cgroup counts it (including
		// executions of the same sandbox running concurrently).
		if d := after.cpu - before.cpu; d > res.CPUTime {
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

	switch {
	case after.oomKills > before.oomKills:
		return res, &computemw.Error{Code: computemw.CodeResource, Message: fmt.Sprintf("memory limit of %d MB exceeded", s.lim.memoryBytes>>20)}
	case after.pidsMax > before.pidsMax:
		return res, &computemw.Error{Code: computemw.CodeResource, Message: fmt.Sprintf("process limit of %d exceeded", s.lim.pids)}
	case timedOut:
		return res, &computemw.Error{Code: computemw.CodeTimeout, Message: fmt.Sprintf("execution exceeded its time limit of %s", timeout)}
	case runCtx.Err() != nil:
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

// environ is the complete environment of a sandboxed process: a fixed base,
// the sandbox's variables, then the execution's. Nothing of the host's.
func (s *sandbox) environ(extra map[string]string) []string {
	home := s.inside(".")
	env := map[string]string{
		"PATH":    sandboxPath,
		"HOME":    home,
		"TMPDIR":  "/tmp",
		"LANG":    "C.UTF-8",
		"USER":    "sandbox",
		"LOGNAME": "sandbox",
		"SHELL":   "/bin/sh",
	}
	maps.Copy(env, s.env)
	maps.Copy(env, extra)
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// exitCode is the program's exit status, with 128+signal for a signal.
func exitCode(ps *os.ProcessState, err error) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// killTree kills an execution's whole process tree: the bwrap monitor's
// process group; its death kills the sandbox's PID 1 (--die-with-parent),
// and with it every process in the PID namespace, detached or stopped.
func killTree(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// Usage implements computemw.Sandbox.
func (s *sandbox) Usage(ctx context.Context) (computemw.Usage, error) {
	u := computemw.Usage{
		CPUTime:    time.Duration(s.cpu.Load()),
		PeakMemory: s.peak.Load(),
		Executions: s.executions.Load(),
	}
	if s.cg != nil {
		// The cgroup's counter is exact even when executions overlapped
		// (their Results' CPU times then count each other's).
		if c := s.cg.read().cpu; c > 0 {
			u.CPUTime = c
		}
	}
	return u, nil
}

// Destroy implements computemw.Sandbox: it kills every process, waits for
// running executions to return, and removes the cgroup and the workspace.
func (s *sandbox) Destroy(ctx context.Context) error {
	s.once.Do(func() {
		s.mu.Lock()
		s.destroyed = true
		for cmd, started := range s.runs {
			if started {
				killTree(cmd)
			}
		}
		s.mu.Unlock()
		var errs []error
		if s.cg != nil {
			_ = s.cg.kill()
		}
		waited := make(chan struct{})
		go func() { s.wg.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("local: destroy %s: executions still running: %w", s.id, ctx.Err()))
		}
		if s.cg != nil {
			if err := s.cg.remove(); err != nil {
				errs = append(errs, fmt.Errorf("local: destroy %s: %w", s.id, err))
			}
		}
		if s.root != nil {
			_ = s.root.Close()
		}
		if s.mounted {
			if err := unix.Unmount(s.ws, unix.MNT_DETACH); err != nil {
				errs = append(errs, fmt.Errorf("local: destroy %s: unmount workspace: %w", s.id, err))
			}
		}
		if s.ws != "" {
			if err := removeAll(s.ws); err != nil {
				errs = append(errs, fmt.Errorf("local: destroy %s: %w", s.id, err))
			}
		}
		s.p.mu.Lock()
		delete(s.p.sandboxes, s.id)
		s.p.mu.Unlock()
		s.destroyErr = errors.Join(errs...)
	})
	return s.destroyErr
}

func containsAny(s, chars string) bool {
	for i := 0; i < len(s); i++ {
		for j := 0; j < len(chars); j++ {
			if s[i] == chars[j] {
				return true
			}
		}
	}
	return false
}

var _ io.Writer = (*cappedBuffer)(nil)

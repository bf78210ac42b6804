package computemw

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// governed is the only kind of sandbox the kit hands out: a provider's
// sandbox whose every execution, terminal and file operation goes through
// the policies, the hooks (metrics, execution log, quota accounting) and
// the time limits of the action that created it. Provider authors implement
// [Sandbox]; application code only ever sees this wrapper.
type governed struct {
	raw Sandbox
	k   *Kit
	// limit caps every execution's time (the creating action's
	// Resources.MaxExecutionTime, as the caller's role allows); 0 is none.
	limit time.Duration
	// defaultTimeout is an execution's limit when it asks for none.
	defaultTimeout time.Duration
	// meter charges what the sandbox uses that no execution reports; nil
	// when the kit has no UsageMeter or the sandbox is another instance's.
	meter *meter
	// maxRunning caps the executions running at once (a session's,
	// Config.MaxSessionExecutions); 0 is none. owner is the caller whose
	// per-caller sandbox cap the sandbox counts in ("" when none).
	maxRunning int
	owner      string

	mu        sync.Mutex
	running   int // executions running, under maxRunning
	terms     map[*governedTerminal]struct{}
	destroyed bool
	once      sync.Once
	err       error
}

func (g *governed) ID() string       { return g.raw.ID() }
func (g *governed) Provider() string { return g.raw.Provider() }

// action builds the action of one operation on this sandbox.
func (g *governed) action(op Op, language string, timeout time.Duration) *Action {
	return &Action{Op: op, Provider: g.raw.Provider(), Language: language, Timeout: g.timeout(timeout), SandboxID: g.raw.ID()}
}

// timeout is the limit of an execution that asked for asked: the sandbox's
// default when zero, never above Config.MaxTimeout.
func (g *governed) timeout(asked time.Duration) time.Duration {
	if asked <= 0 {
		asked = g.defaultTimeout
	}
	if asked <= 0 {
		asked = g.k.cfg.DefaultTimeout
	}
	return min(asked, g.k.cfg.MaxTimeout)
}

// Exec runs a command line as a governed execution.
func (g *governed) Exec(ctx context.Context, command string, opts ExecOptions) (*Result, error) {
	if len(command) > MaxCommandBytes {
		return nil, Errorf(CodeBadRequest, "command exceeds %d bytes", MaxCommandBytes)
	}
	if err := g.k.validateCompile(true, opts.Version, opts.CompileOptions, opts.CompileTimeout); err != nil {
		return nil, err
	}
	return g.run(ctx, g.action(OpExec, "", opts.Timeout), opts, func(ctx context.Context, opts ExecOptions) (*Result, error) {
		return g.raw.Exec(ctx, command, opts)
	})
}

// RunCode runs a program as a governed execution.
func (g *governed) RunCode(ctx context.Context, language, code string, opts ExecOptions) (*Result, error) {
	if err := g.k.validateCompile(false, opts.Version, opts.CompileOptions, opts.CompileTimeout); err != nil {
		return nil, err
	}
	a := g.action(OpExecute, language, opts.Timeout)
	a.CompileTimeout = opts.CompileTimeout
	return g.run(ctx, a, opts, func(ctx context.Context, opts ExecOptions) (*Result, error) {
		return g.raw.RunCode(ctx, language, code, opts)
	})
}

// run admits (if needed) and authorizes one execution, then runs it.
func (g *governed) run(ctx context.Context, a *Action, opts ExecOptions, fn execFunc) (*Result, error) {
	if err := ValidateEnv(opts.Env); err != nil {
		return nil, err
	}
	if err := validateArgs(opts.Args); err != nil {
		return nil, err
	}
	ctx, err := g.k.ensureAdmitted(ctx, a.Op)
	if err != nil {
		return nil, err
	}
	if err := g.k.authorize(ctx, a); err != nil {
		return nil, err
	}
	return g.k.execute(ctx, a, g, opts, fn)
}

// execFunc runs one execution on the provider's sandbox.
type execFunc func(ctx context.Context, opts ExecOptions) (*Result, error)

// execute runs an authorized execution in g: the one place where the kit
// runs a program. It checks the language, holds the execution to its time
// limit, names its caller to the provider (ExecOptions.Caller), and
// reports it to the hooks (metrics, log, quota) exactly once, whatever
// happens.
func (k *Kit) execute(ctx context.Context, a *Action, g *governed, opts ExecOptions, fn execFunc) (*Result, error) {
	done, err := g.startRun()
	if err != nil {
		return nil, k.notRun(ctx, a, err)
	}
	defer done()
	for _, h := range k.hooks {
		h.ExecutionStarted(ctx, a)
	}
	start := time.Now()
	var res *Result
	if a.Op == OpExecute {
		if p, perr := k.provider(a.Provider); perr == nil {
			err = checkLanguage(p, a.Language)
		}
	}
	if err == nil {
		opts.Timeout = a.Timeout
		opts.Caller = k.owner(ctx)
		if g.limit > 0 && (opts.Timeout <= 0 || opts.Timeout > g.limit) {
			opts.Timeout = g.limit
		}
		opts.CompileTimeout = a.CompileTimeout
		if g.limit > 0 && opts.CompileTimeout > g.limit {
			opts.CompileTimeout = g.limit
		}
		g.meter.begin()
		res, err = k.providerRun(ctx, a, g, opts, fn)
		g.meter.end(res)
	}
	took := time.Since(start)
	if res != nil {
		res.SandboxID, res.Provider = g.raw.ID(), g.raw.Provider()
	}
	for _, h := range k.hooks {
		h.ExecutionFinished(ctx, a, res, err, took)
	}
	return res, withPartial(err, res)
}

// withPartial gives a timeout or a resource error the partial Result as
// its Details, so that the error alone, returned by an application's
// handler and rendered by an adapter, still carries what the program
// printed before it was stopped.
func withPartial(err error, res *Result) error {
	var e *Error
	if res == nil || !errors.As(err, &e) || e.Details != nil || (e.Code != CodeTimeout && e.Code != CodeResource) {
		return err
	}
	c := *e
	c.Details = res
	return &c
}

// startRun counts an execution under the sandbox's cap of executions at
// once; done ends it.
func (g *governed) startRun() (done func(), err error) {
	if g.maxRunning <= 0 {
		return func() {}, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.running >= g.maxRunning {
		return nil, &Error{Code: CodeRateLimited, RetryAfter: time.Second,
			Message: fmt.Sprintf("at most %d executions at once in a session", g.maxRunning)}
	}
	g.running++
	return func() {
		g.mu.Lock()
		g.running--
		g.mu.Unlock()
	}, nil
}

// authorizeFile admits (if needed) and authorizes one file operation.
func (g *governed) authorizeFile(ctx context.Context) (context.Context, error) {
	ctx, err := g.k.ensureAdmitted(ctx, OpFiles)
	if err != nil {
		return ctx, err
	}
	return ctx, g.k.authorize(ctx, g.action(OpFiles, "", 0))
}

func (g *governed) ReadFile(ctx context.Context, path string) ([]byte, error) {
	ctx, err := g.authorizeFile(ctx)
	if err != nil {
		return nil, err
	}
	return g.raw.ReadFile(ctx, path)
}

func (g *governed) WriteFile(ctx context.Context, path string, data []byte) error {
	ctx, err := g.authorizeFile(ctx)
	if err != nil {
		return err
	}
	return g.raw.WriteFile(ctx, path, data)
}

func (g *governed) ListFiles(ctx context.Context, path string) ([]FileInfo, error) {
	ctx, err := g.authorizeFile(ctx)
	if err != nil {
		return nil, err
	}
	return g.raw.ListFiles(ctx, path)
}

func (g *governed) Stat(ctx context.Context, path string) (FileInfo, error) {
	ctx, err := g.authorizeFile(ctx)
	if err != nil {
		return FileInfo{}, err
	}
	return g.raw.Stat(ctx, path)
}

func (g *governed) Mkdir(ctx context.Context, path string) error {
	ctx, err := g.authorizeFile(ctx)
	if err != nil {
		return err
	}
	return g.raw.Mkdir(ctx, path)
}

func (g *governed) Remove(ctx context.Context, path string) error {
	ctx, err := g.authorizeFile(ctx)
	if err != nil {
		return err
	}
	return g.raw.Remove(ctx, path)
}

// openFile streams a file, as a governed file operation.
func (g *governed) openFile(ctx context.Context, path string) (io.ReadCloser, FileInfo, error) {
	fo, ok := g.raw.(FileOpener)
	if !ok {
		return nil, FileInfo{}, Unsupported(g.raw.Provider(), "streaming files")
	}
	ctx, err := g.authorizeFile(ctx)
	if err != nil {
		return nil, FileInfo{}, err
	}
	return fo.OpenFile(ctx, path)
}

func (g *governed) Usage(ctx context.Context) (Usage, error) { return g.raw.Usage(ctx) }

// Destroy destroys the sandbox once: its open terminals are reported
// finished, its slot in the kit is freed and the hooks are told.
func (g *governed) Destroy(ctx context.Context) error {
	g.once.Do(func() {
		// Terminals end first, while the sandbox can still measure what
		// they used; a terminal opening meanwhile sees destroyed and ends
		// itself.
		g.mu.Lock()
		g.destroyed = true
		terms := make([]*governedTerminal, 0, len(g.terms))
		for t := range g.terms {
			terms = append(terms, t)
		}
		g.mu.Unlock()
		for _, t := range terms {
			t.end(ctx)
		}
		g.meter.finish(ctx)
		g.err = g.k.providerDestroy(ctx, g)
		g.k.mu.Lock()
		delete(g.k.live, g)
		g.k.mu.Unlock()
		g.k.unreserve()
		g.k.owned.give(g.owner)
		for _, h := range g.k.hooks {
			h.SandboxDestroyed(ctx, g, g.err)
		}
	})
	return g.err
}

// openTerminal opens a terminal as a governed execution: authorized as an
// [OpTerminal] action, ended at the action's Timeout (Config.WebSocket's
// TerminalTimeout, lowered by policies such as RBAC), and reported to the
// hooks when it ends with the CPU time its sandbox used meanwhile.
func (g *governed) openTerminal(ctx context.Context, opts TerminalOptions) (Terminal, error) {
	to, ok := g.raw.(TerminalOpener)
	if !ok {
		return nil, Unsupported(g.raw.Provider(), "terminals")
	}
	if err := ValidateEnv(opts.Env); err != nil {
		return nil, err
	}
	ctx, err := g.k.ensureAdmitted(ctx, OpTerminal)
	if err != nil {
		return nil, err
	}
	a := g.action(OpTerminal, "", g.k.cfg.WebSocket.TerminalTimeout)
	a.Timeout = g.k.cfg.WebSocket.TerminalTimeout
	if g.limit > 0 {
		a.Timeout = min(a.Timeout, g.limit)
	}
	if err := g.k.authorize(ctx, a); err != nil {
		return nil, err
	}
	for _, h := range g.k.hooks {
		h.ExecutionStarted(ctx, a)
	}
	g.meter.begin()
	before, _ := g.raw.Usage(ctx)
	start := time.Now()
	term, err := to.OpenTerminal(ctx, opts)
	if err != nil {
		g.meter.end(nil)
		for _, h := range g.k.hooks {
			h.ExecutionFinished(ctx, a, nil, err, time.Since(start))
		}
		return nil, err
	}
	t := &governedTerminal{Terminal: term, g: g, a: a, ctx: context.WithoutCancel(ctx), start: start, before: before,
		stopCheck: make(chan struct{})}
	t.limit = time.AfterFunc(a.Timeout, func() {
		t.timedOut.Store(true)
		_ = term.Close()
	})
	go t.checkUsage(g.k.cfg.UsageCheckInterval)
	g.mu.Lock()
	if g.destroyed { // Destroy began while the terminal opened
		g.mu.Unlock()
		t.end(ctx)
		return nil, &Error{Code: CodeNotFound, Message: "the sandbox was destroyed"}
	}
	if g.terms == nil {
		g.terms = make(map[*governedTerminal]struct{})
	}
	g.terms[t] = struct{}{}
	g.mu.Unlock()
	return t, nil
}

// end closes the terminal and waits (bounded by ctx) for its end to be
// reported.
func (t *governedTerminal) end(ctx context.Context) {
	_ = t.Terminal.Close()
	done := make(chan struct{})
	go func() {
		_, _ = t.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// governedTerminal reports its terminal's end to the hooks, once.
type governedTerminal struct {
	Terminal
	g        *governed
	a        *Action
	ctx      context.Context
	start    time.Time
	before   Usage
	limit    *time.Timer
	timedOut atomic.Bool
	// stopped is why the kit ended the terminal early (a spent quota).
	stopped   atomic.Pointer[error]
	stopCheck chan struct{}

	once sync.Once
	code int
	err  error
}

// Wait waits for the program and reports the terminal's end to the hooks.
func (t *governedTerminal) Wait() (int, error) {
	t.once.Do(func() {
		t.code, t.err = t.Terminal.Wait()
		t.limit.Stop()
		close(t.stopCheck)
		took := time.Since(t.start)
		res := t.sofar()
		res.ExitCode, res.ExecutionTime = t.code, took
		err := t.err
		if t.timedOut.Load() {
			err = &Error{Code: CodeTimeout, Message: "terminal time limit reached"}
		}
		if stopped := t.stopped.Load(); stopped != nil {
			err = *stopped
		}
		if err != nil && errors.Is(err, io.EOF) {
			err = nil
		}
		t.g.meter.end(res)
		for _, h := range t.g.k.hooks {
			h.ExecutionFinished(t.ctx, t.a, res, err, took)
		}
		t.g.mu.Lock()
		delete(t.g.terms, t)
		t.g.mu.Unlock()
	})
	return t.code, t.err
}

// sofar is what the terminal's sandbox has used since it opened.
func (t *governedTerminal) sofar() *Result {
	res := &Result{ExecutionTime: time.Since(t.start), SandboxID: t.g.raw.ID(), Provider: t.g.raw.Provider()}
	uctx, cancel := context.WithTimeout(t.ctx, time.Second)
	defer cancel()
	if after, err := t.g.raw.Usage(uctx); err == nil {
		res.CPUTime = max(0, after.CPUTime-t.before.CPUTime)
		res.PeakMemory = after.PeakMemory
	}
	return res
}

// checkUsage asks the policies that can ([UsageMeter]), every interval,
// whether the terminal may go on with what it has used so far; the first
// refusal ends it.
func (t *governedTerminal) checkUsage(interval time.Duration) {
	var checkers []UsageMeter
	for _, p := range t.g.k.cfg.Policies {
		if c, ok := p.(UsageMeter); ok {
			checkers = append(checkers, c)
		}
	}
	if len(checkers) == 0 {
		return
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-t.stopCheck:
			return
		case <-tick.C:
		}
		sofar := t.sofar()
		for _, c := range checkers {
			if err := c.CheckUsage(t.ctx, t.a, sofar); err != nil {
				t.stop(err)
				return
			}
		}
	}
}

// stop ends the terminal early, for err (a spent quota), which its end
// reports.
func (t *governedTerminal) stop(err error) {
	t.stopped.CompareAndSwap(nil, &err)
	_ = t.Terminal.Close()
}

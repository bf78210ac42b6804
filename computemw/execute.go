package computemw

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Run is one execution for [Kit.Execute]: a program (Language and Code) or
// a command line (Command).
type Run struct {
	// Provider names the provider; "" is the session's (with SandboxID)
	// or the kit's default.
	Provider string
	// SandboxID runs in one of the caller's sessions; "" runs in the
	// request's middleware sandbox when there is one on the provider, else
	// in a sandbox of its own, destroyed when the run ends.
	SandboxID string
	// Language and Code are the program to run; or Command, a command
	// line for sh -c.
	Language string
	Code     string
	Command  string
	// Cwd is the working directory of a command, relative to the
	// workspace.
	Cwd string
	// Env adds environment variables (at most 256, 64 KiB in all).
	Env map[string]string
	// Args are the program's arguments (at most MaxArgs in MaxArgsBytes,
	// none holding a NUL byte); not for a command line.
	Args []string
	// Stdin is the program's standard input.
	Stdin io.Reader
	// Stdout and Stderr receive the output as it is produced.
	Stdout io.Writer
	Stderr io.Writer
	// Timeout is the wall-clock limit: zero is Config.DefaultTimeout,
	// above Config.MaxTimeout is a 400. Policies may lower it (RBAC).
	Timeout time.Duration
	// Version, CompileOptions and CompileTimeout choose the language's
	// version, add compiler flags and give the compile step a limit of its
	// own (see [ExecOptions]); not for a command line. CompileTimeout
	// above Config.MaxTimeout is a 400; policies may lower it (RBAC).
	Version        string
	CompileOptions []string
	CompileTimeout time.Duration
	// MergeStderr sends stderr into stdout, interleaved as written.
	MergeStderr bool
	// Files are written into the sandbox before the program runs.
	Files []File
	// Create configures the sandbox of its own (when one is created).
	Create CreateOptions
}

// File is a file written into a sandbox before a [Run].
type File struct {
	Path string
	Data []byte
}

// Execute is the governed one-shot execution, the entry that custom
// transports share with the prebuilt routes: it admits the caller when ctx
// did not come from [Kit.Admit], authorizes the execution (permissions,
// the role's limits, the quota's reservation) before any sandbox exists,
// finds or creates the sandbox, writes Files, runs, reports to the hooks
// (metrics, execution log, quota usage) and destroys a sandbox it created.
// Errors are the same classes the routes answer with: 400 for a bad Run,
// 401/403/429 from policies, 404 for an unknown session, 408/507 with a
// partial Result for a time or resource limit. A program that exits
// non-zero is a Result with that ExitCode and a nil error.
func (k *Kit) Execute(ctx context.Context, run Run) (*Result, error) {
	ctx, p, err := k.prepare(ctx, run)
	if err != nil {
		return nil, err
	}
	defer p.release()
	return k.execute(ctx, p.a, p.g, p.opts, p.fn)
}

// prepared is an authorized execution with its sandbox, ready to run.
type prepared struct {
	a       *Action
	g       *governed
	release func()
	opts    ExecOptions
	fn      execFunc
}

// prepare validates, admits and authorizes a run and finds or creates its
// sandbox. The caller runs it with k.execute and then calls release.
func (k *Kit) prepare(ctx context.Context, run Run) (context.Context, *prepared, error) {
	op := OpExec
	switch {
	case run.Command != "" && (run.Language != "" || run.Code != ""):
		return ctx, nil, Errorf(CodeBadRequest, "give a command, or a language and code, not both")
	case run.Command == "":
		op = OpExecute
		if strings.TrimSpace(run.Language) == "" {
			return ctx, nil, Errorf(CodeBadRequest, "field %q is required", "language")
		}
		if strings.TrimSpace(run.Code) == "" {
			return ctx, nil, Errorf(CodeBadRequest, "field %q is required", "code")
		}
	}
	if len(run.Command) > MaxCommandBytes {
		return ctx, nil, Errorf(CodeBadRequest, "command exceeds %d bytes", MaxCommandBytes)
	}
	if run.Timeout < 0 || run.Timeout > k.cfg.MaxTimeout {
		return ctx, nil, Errorf(CodeBadRequest, "timeout must be positive and at most %d ms", k.cfg.MaxTimeout.Milliseconds())
	}
	if run.Timeout == 0 {
		run.Timeout = k.cfg.DefaultTimeout
	}
	if err := k.validateCompile(run.Command != "", run.Version, run.CompileOptions, run.CompileTimeout); err != nil {
		return ctx, nil, err
	}
	if err := ValidateEnv(run.Env); err != nil {
		return ctx, nil, err
	}
	if err := ValidateEnv(run.Create.Env); err != nil {
		return ctx, nil, err
	}
	if err := validateRunArgs(run); err != nil {
		return ctx, nil, err
	}
	ctx, err := k.ensureAdmitted(ctx, op)
	if err != nil {
		return ctx, nil, err
	}
	p, plan, err := k.targetProvider(ctx, run.Provider, run.SandboxID)
	if err != nil {
		return ctx, nil, err
	}
	a := &Action{Op: op, Provider: p.Name(), Language: run.Language, Timeout: run.Timeout,
		CompileTimeout: run.CompileTimeout, SandboxID: run.SandboxID, Create: run.Create, plan: plan}
	mw := k.requestSandbox(ctx, a)
	if err := k.authorize(ctx, a); err != nil {
		return ctx, nil, err
	}
	if op == OpExecute {
		if err := checkLanguage(p, run.Language); err != nil {
			return ctx, nil, k.unrun(ctx, a, err)
		}
	}
	g, release, err := k.target(ctx, a, mw)
	if err != nil {
		return ctx, nil, err
	}
	pr := &prepared{a: a, g: g, release: release}
	pr.opts = ExecOptions{Cwd: run.Cwd, Env: run.Env, Args: run.Args, Stdin: run.Stdin, Stdout: run.Stdout, Stderr: run.Stderr,
		Version: run.Version, CompileOptions: run.CompileOptions, MergeStderr: run.MergeStderr}
	raw := pr.g.raw
	pr.fn = func(ctx context.Context, opts ExecOptions) (*Result, error) {
		for _, f := range run.Files {
			if err := raw.WriteFile(ctx, f.Path, f.Data); err != nil {
				return nil, fmt.Errorf("files[%q]: %w", f.Path, err)
			}
		}
		if run.Command != "" {
			return raw.Exec(ctx, run.Command, opts)
		}
		return raw.RunCode(ctx, run.Language, run.Code, opts)
	}
	return ctx, pr, nil
}

// unrun reports an authorized execution that could not run at all (an
// unknown language, a sandbox that could not be made) as an execution
// that failed to start, so that it is counted, logged and its reservation
// given back. It returns err.
func (k *Kit) unrun(ctx context.Context, a *Action, err error) error {
	for _, h := range k.hooks {
		h.ExecutionStarted(ctx, a)
	}
	for _, h := range k.hooks {
		h.ExecutionFinished(ctx, a, nil, err, 0)
	}
	return err
}

// abandon reports an authorized action whose sandbox could not be created:
// a refusal for capacity (503), else an execution that failed to start.
func (k *Kit) abandon(ctx context.Context, a *Action, err error) error {
	if !isExecution(a.Op) || AsError(err).Code == CodeUnavailable {
		return k.notRun(ctx, a, err)
	}
	return k.unrun(ctx, a, err)
}

// requestSandbox returns the request's middleware sandbox when a can use
// it (no session named, same provider), and sets a.CreatesSandbox: the
// kit, not the policies, decides whether an action creates a sandbox.
func (k *Kit) requestSandbox(ctx context.Context, a *Action) *governed {
	mw := governedFrom(ctx)
	if mw != nil && (a.SandboxID != "" || mw.Provider() != a.Provider) {
		mw = nil
	}
	a.CreatesSandbox = a.SandboxID == "" && mw == nil
	return mw
}

// target returns the sandbox an authorized action uses — the caller's
// session, the request's middleware sandbox, or a new one — and the
// function that ends the use (destroying a new one).
func (k *Kit) target(ctx context.Context, a *Action, mw *governed) (*governed, func(), error) {
	switch {
	case a.SandboxID != "":
		s, release, err := k.session(ctx, a.SandboxID)
		if err != nil {
			return nil, nil, k.notRun(ctx, a, err)
		}
		if s.sb.Provider() != a.Provider {
			release()
			return nil, nil, k.notRun(ctx, a, Errorf(CodeBadRequest, "sandbox %q runs on provider %q, not %q", a.SandboxID, s.sb.Provider(), a.Provider))
		}
		return s.sb, release, nil
	case mw != nil:
		return mw, func() {}, nil
	}
	g, err := k.create(ctx, a)
	if err != nil {
		return nil, nil, k.abandon(ctx, a, err)
	}
	return g, k.destroyLater(ctx, g), nil
}

// destroyLater returns the release of a sandbox made for one action: it
// destroys the sandbox in the background, so that the answer does not wait
// for it. The sandbox keeps its slot of Config.MaxSandboxes until it is
// gone (so capacity still bounds the destroys in progress), and Kit.Close
// waits for it. With Config.DestroyBeforeReturn the release destroys the
// sandbox before it returns.
func (k *Kit) destroyLater(ctx context.Context, g *governed) func() {
	destroy := k.releaser(ctx, g)
	var once sync.Once
	if k.cfg.DestroyBeforeReturn {
		return func() { once.Do(destroy) }
	}
	return func() { once.Do(func() { go destroy() }) }
}

// Prepared is an execution that is admitted, authorized and holds its
// sandbox, ready to run: the first half of a run whose output is streamed,
// so that a refusal (401, 404, 429, 503 ...) is known before anything is
// sent to the client. Run it once, then Release it.
type Prepared struct {
	k   *Kit
	ctx context.Context
	p   *prepared
	rel sync.Once
}

// Prepare does everything [Kit.Execute] does before the program starts —
// validation, admission, authorization, finding or creating the sandbox —
// and returns the execution ready to run. Release must be called, whether
// or not it ran.
func (k *Kit) Prepare(ctx context.Context, run Run) (*Prepared, error) {
	ctx, p, err := k.prepare(ctx, run)
	if err != nil {
		return nil, err
	}
	return &Prepared{k: k, ctx: ctx, p: p}, nil
}

// Context returns the context the execution was admitted with: the
// request's ID, principal and response headers.
func (p *Prepared) Context() context.Context { return p.ctx }

// Run runs the prepared execution, its output also written to stdout and
// stderr (either may be nil) as it is produced, until it ends or ctx
// does. ctx should carry the values of [Prepared.Context].
func (p *Prepared) Run(ctx context.Context, stdout, stderr io.Writer) (*Result, error) {
	opts := p.p.opts
	if stdout != nil {
		opts.Stdout = stdout
	}
	if stderr != nil {
		opts.Stderr = stderr
	}
	return p.k.execute(ctx, p.p.a, p.p.g, opts, p.p.fn)
}

// Release ends the execution's use of its sandbox (destroying a sandbox
// made for it). It is idempotent.
func (p *Prepared) Release() { p.rel.Do(p.p.release) }

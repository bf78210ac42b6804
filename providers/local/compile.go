//go:build linux

package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local/internal/buildcache"
	"github.com/computemw/kit/providers/local/internal/cgroups"
)

// maxCompileOutput caps what a compiler's output adds to a Result, and to
// the error of a failed compile.
const maxCompileOutput = 64 << 10

// runCompiled runs a program of a compiled language: the artefact comes
// from the build cache, or from a compile step in a directory of the
// sandbox's own (see build), and is copied into a hidden directory of the
// workspace for the run step, which has the execution's limits, stdin,
// arguments and environment. The compiler's output is Result.CompileOutput
// (empty when the artefact was cached). A failed compile returns a Result
// with the compiler's exit code and an EXECUTION_ERROR carrying its
// output; a compile past its time or memory limit, TIMEOUT or
// RESOURCE_ERROR.
//
// The execution's time limit covers both steps: the compile, and what
// comes before it, counts within it, and the run step has what is left.
// With opts.CompileTimeout the steps have a limit each (runApart).
func (s *sandbox) runCompiled(ctx context.Context, rt *Runtime, code string, opts computemw.ExecOptions) (*computemw.Result, error) {
	if opts.CompileTimeout > 0 {
		return s.runApart(ctx, rt, code, opts)
	}
	timeout := s.timeLimit(opts.Timeout)
	parent := ctx
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, errTimeLimit)
	defer cancel()
	res, err := s.runCompiledWithin(ctx, rt, code, opts, timeout)
	if err != nil && parent.Err() == nil && errors.Is(context.Cause(ctx), errTimeLimit) && computemw.AsError(err).Code != computemw.CodeTimeout {
		// The limit ended a step between the compile and the run (a
		// wait to start, an init's start): the execution timed out.
		return res, &computemw.Error{Code: computemw.CodeTimeout, Message: fmt.Sprintf("execution exceeded its time limit of %s", timeout), Err: err}
	}
	return res, err
}

// runCompiledWithin is runCompiled once ctx carries the execution's time
// limit, timeout.
func (s *sandbox) runCompiledWithin(ctx context.Context, rt *Runtime, code string, opts computemw.ExecOptions, timeout time.Duration) (*computemw.Result, error) {
	dir := newID(".computemw-main-build")
	defer func() { _ = s.root.RemoveAll(dir) }()
	compileOutput, res, err := s.artefact(ctx, rt, code, dir, s.p.cfg.CompileTimeout, timeout)
	if err != nil {
		return res, err
	}
	// ctx ends the run step when the execution's time limit does: its
	// own limit, the same, started later, names it.
	return s.runArtefact(ctx, rt, dir, compileOutput, opts)
}

// runApart runs a compiled program whose compile has a limit of its own,
// opts.CompileTimeout (never above Config.CompileTimeout): the compile,
// and what comes before it, counts within that, and the run step then has
// the whole of the execution's time limit.
func (s *sandbox) runApart(ctx context.Context, rt *Runtime, code string, opts computemw.ExecOptions) (*computemw.Result, error) {
	limit := s.timeLimit(min(opts.CompileTimeout, s.p.cfg.CompileTimeout))
	dir := newID(".computemw-main-build")
	defer func() { _ = s.root.RemoveAll(dir) }()
	cctx, cancel := context.WithTimeoutCause(ctx, limit, errTimeLimit)
	compileOutput, res, err := s.artefact(cctx, rt, code, dir, limit, 0)
	timedOut := ctx.Err() == nil && errors.Is(context.Cause(cctx), errTimeLimit)
	cancel()
	if err != nil {
		if timedOut {
			err = &computemw.Error{Code: computemw.CodeTimeout, Message: fmt.Sprintf("compilation exceeded its time limit of %s", limit), Err: err}
		}
		return res, err
	}
	return s.runArtefact(ctx, rt, dir, compileOutput, opts)
}

// runArtefact runs the artefact installed in dir with the execution's
// limits, stdin, arguments and environment.
func (s *sandbox) runArtefact(ctx context.Context, rt *Runtime, dir, compileOutput string, opts computemw.ExecOptions) (*computemw.Result, error) {
	argv := expand(rt.Run, map[string]string{"{out}": s.inside(dir)})
	argv = append(argv, opts.Args...)
	res, err := s.runWith(ctx, argv, opts, s.hostDirBinds(rt))
	if res != nil {
		res.CompileOutput = compileOutput
	}
	return res, err
}

// artefact installs rt's artefact of code in dir (workspace-relative,
// new): from the build cache, or built by a compile step of at most
// compileLimit (see build; execLimit, when not 0, is the limit ctx
// carries, that a compile it ends is named by). It returns the
// compiler's output (empty when cached), or a Result and error of a
// failed compile.
func (s *sandbox) artefact(ctx context.Context, rt *Runtime, code, dir string, compileLimit, execLimit time.Duration) (string, *computemw.Result, error) {
	b := s.p.tc
	key, err := b.key(ctx, rt, s.tmpl, code)
	if err != nil {
		return "", nil, err
	}
	installed := false
	if root, m, err := b.cache.Open(key); err == nil {
		err = s.installArtefact(root, m, dir)
		root.Close()
		switch {
		case errors.Is(err, buildcache.ErrCorrupt):
			s.p.log.Warn("computemw/local: a build cache entry was changed on disk; rebuilding it", "language", rt.Name, "key", key)
			b.cache.Drop(key)
			_ = s.root.RemoveAll(dir)
		case err != nil:
			return "", nil, err
		default:
			installed = true
		}
	}
	if installed {
		return "", nil, nil
	}
	res, err := s.build(ctx, rt, code, key, compileLimit, execLimit)
	if err != nil {
		return "", res, err
	}
	root, m, err := b.cache.Open(key)
	if err != nil {
		return "", nil, fmt.Errorf("local: build cache: %w", err)
	}
	err = s.installArtefact(root, m, dir)
	root.Close()
	if err != nil {
		return "", nil, err
	}
	return res.CompileOutput, nil, nil
}

// installArtefact copies a cached artefact into dir (workspace-relative,
// new) of the sandbox's workspace, checked against its manifest, and gives
// it to the sandbox. A mismatch returns buildcache.ErrCorrupt; the caller
// removes dir.
func (s *sandbox) installArtefact(src *os.Root, m *buildcache.Manifest, dir string) error {
	err := buildcache.Install(src, m, s.root, dir, s.giveToSandbox)
	if err != nil && !errors.Is(err, buildcache.ErrCorrupt) {
		return fmt.Errorf("local: %w", err)
	}
	return err
}

// giveToSandbox gives a file the provider made in the workspace to the
// sandbox's uid, where that differs from the server's.
func (s *sandbox) giveToSandbox(rel string) error {
	if !s.chown {
		return nil
	}
	return s.root.Lchown(rel, s.uid, s.gid)
}

// build compiles code in a build directory of its own: a fresh directory
// (a size-capped tmpfs where workspaces are) bound as the compile step's
// /workspace, holding the program in src/, an empty out/ for the
// artefact and cache/ for the toolchain's cache (a private copy of the
// warmed one). The step runs as the sandbox's uid, in a cgroup of its own
// (compileLimits), for at most compileLimit and never past ctx, which
// ends with the execution's time limit, execLimit (0 when the compile
// has a limit of its own); with a fixed
// environment; nothing of the workspace is visible to it. On success the
// artefact is stored under key in the build cache.
func (s *sandbox) build(ctx context.Context, rt *Runtime, code, key string, compileLimit, execLimit time.Duration) (*computemw.Result, error) {
	b := s.p.tc
	var seed string
	if rt.Warm != "" && s.tmpl == nil {
		var err error
		if seed, err = b.warm(ctx, s.p, rt); err != nil && ctx.Err() != nil {
			// The warm goes on for the executions after this one.
			if errors.Is(context.Cause(ctx), errTimeLimit) {
				which := fmt.Sprintf("the execution's time limit of %s", execLimit)
				if execLimit == 0 {
					which = fmt.Sprintf("its time limit of %s", compileLimit)
				}
				return nil, &computemw.Error{Code: computemw.CodeTimeout, Message: fmt.Sprintf("compilation exceeded %s while the %s toolchain's shared cache was being prepared", which, rt.Name)}
			}
			return nil, fmt.Errorf("local: execution stopped: %w", context.Cause(ctx))
		}
		if err != nil {
			s.p.log.Warn("computemw/local: the toolchain's shared cache could not be prepared; compiling without it", "language", rt.Name, "error", err)
		}
	}
	bd, err := s.newBuildDir(rt, code, seed)
	if err != nil {
		return nil, err
	}
	defer bd.remove()

	res, err := s.compileIn(ctx, rt, bd, compileLimit, execLimit)
	if err != nil {
		return res, err
	}
	out := res
	if res.ExitCode != 0 {
		return out, &computemw.Error{
			Code:    computemw.CodeExecution,
			Message: fmt.Sprintf("compilation failed (exit code %d):\n%s", res.ExitCode, truncateText(out.CompileOutput, 8<<10)),
			Details: map[string]any{"compileOutput": out.CompileOutput, "exitCode": res.ExitCode},
		}
	}
	outRoot, err := os.OpenRoot(filepath.Join(bd.dir, "out"))
	if err != nil {
		return out, fmt.Errorf("local: compile output: %w", err)
	}
	defer outRoot.Close()
	if _, err := b.cache.Put(key, outRoot); err != nil {
		err = fmt.Errorf("local: %w", err)
		return out, &computemw.Error{Code: computemw.CodeExecution, Message: err.Error(), Err: err}
	}
	return out, nil
}

// compileLimits are the cgroup limits of a compile step: the sandbox's,
// with Config.CompileMemoryMB of memory where that is less than the
// sandbox's own cap. A compile never has more memory than the sandbox it
// compiles for may use: its cgroup is apart from the sandbox's so that it
// does not take the run step's memory, not so that it may have more.
func (s *sandbox) compileLimits() cgroups.Limits {
	lim := s.lim
	compile := int64(s.p.cfg.CompileMemoryMB) << 20
	if lim.MemoryBytes <= 0 || compile < lim.MemoryBytes {
		lim.MemoryBytes = compile
	}
	return lim
}

// compileIn runs rt's compile step on the program in bd, in a cgroup of
// its own (compileLimits), for at most limit and never past ctx, with a
// fixed environment and no network. execLimit, when not 0, is the
// execution's time limit, which ctx's deadline carries: a compile that
// ctx ends is a TIMEOUT naming it. Its Result holds the compiler's output
// and exit code.
func (s *sandbox) compileIn(ctx context.Context, rt *Runtime, bd *buildDir, limit, execLimit time.Duration) (*computemw.Result, error) {
	var cg cgroups.Group
	lim := s.compileLimits()
	if s.p.cg != nil {
		g, err := s.p.cg.Create(s.p.cgroupRel(newID(sandboxPrefix)), lim)
		if err != nil {
			return nil, fmt.Errorf("local: compile cgroup: %w", err)
		}
		cg = g
		defer func() {
			_ = g.Kill()
			_ = g.Remove()
		}()
	}
	vars := map[string]string{
		"{file}":  s.p.iso.inside(bd.dir, "src/"+rt.fileName()),
		"{out}":   s.p.iso.inside(bd.dir, "out"),
		"{cache}": s.p.iso.inside(bd.dir, "cache"),
	}
	env := map[string]string{"PATH": sandboxPath, "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8", "USER": "sandbox", "LOGNAME": "sandbox"}
	for k, v := range rt.Env {
		env[k] = expand([]string{v}, vars)[0]
	}
	binds := s.hostDirBinds(rt)
	adjust := func(pr *profile) {
		pr.workspace = bd.fd
		// The build directory is mounted in the server's namespace.
		pr.mntns = nil
		// A compile fetches nothing: what it builds depends on the key's
		// inputs alone.
		pr.network = false
		pr.cwd = s.p.iso.inside(bd.dir, "src")
		pr.env = sortedEnv(env)
		pr.cgroup = cg
		if binds != nil {
			binds(pr)
		}
	}
	// The step's own limit, unless what is left of ctx (the execution's
	// time limit, or the request's deadline) is less.
	byCtx := false
	if d := timeLeft(ctx); d > 0 && d < limit {
		limit, byCtx = d, true
	}
	limit = s.timeLimit(limit)
	res, err := s.runWith(ctx, expand(rt.Compile, vars), computemw.ExecOptions{Timeout: limit, MaxOutputBytes: maxCompileOutput}, adjust)
	if cg != nil {
		c := cg.Read()
		s.cpu.Add(int64(c.CPU))
		if c.OOMKills > 0 {
			return compileResult(res), &computemw.Error{Code: computemw.CodeResource, Message: fmt.Sprintf("compilation exceeded its memory limit of %d MB", lim.MemoryBytes>>20)}
		}
	}
	if err != nil {
		if computemw.AsError(err).Code == computemw.CodeTimeout || errors.Is(context.Cause(ctx), errTimeLimit) {
			msg := fmt.Sprintf("compilation exceeded its time limit of %s", limit)
			if byCtx && execLimit > 0 {
				msg = fmt.Sprintf("compilation exceeded the execution's time limit of %s", execLimit)
			}
			return compileResult(res), &computemw.Error{Code: computemw.CodeTimeout, Message: msg}
		}
		return compileResult(res), err
	}
	return compileResult(res), nil
}

// compileResult turns the compile step's Result into the execution's:
// the compiler's output, its exit code, and no program output.
func compileResult(res *computemw.Result) *computemw.Result {
	if res == nil {
		return nil
	}
	out := strings.TrimRight(res.Stdout, "\n")
	if res.Stderr != "" {
		if out != "" {
			out += "\n"
		}
		out += res.Stderr
	}
	return &computemw.Result{CompileOutput: out, ExitCode: res.ExitCode, ExecutionTime: res.ExecutionTime, CPUTime: res.CPUTime, Truncated: res.Truncated}
}

// buildDir is the directory of one compile step.
type buildDir struct {
	dir     string
	fd      *os.File // O_PATH descriptor, bound as the step's /workspace
	mounted bool
}

// newBuildDir makes the build directory of one compile: src/<file> with
// the program, out/, and cache/ (a copy of seed when set), owned by the
// sandbox's uid.
func (s *sandbox) newBuildDir(rt *Runtime, code, seed string) (bd *buildDir, err error) {
	bd = &buildDir{dir: filepath.Join(s.p.dir, newID("build"))}
	if err := os.Mkdir(bd.dir, 0o700); err != nil {
		return nil, fmt.Errorf("local: build dir: %w", err)
	}
	defer func() {
		if err != nil {
			bd.remove()
		}
	}()
	if s.p.tmpfsWS {
		if err := s.p.mountWorkspace(bd.dir, s.uid, s.gid); err != nil {
			return bd, fmt.Errorf("local: build dir: %w", err)
		}
		bd.mounted = true
	}
	root, err := os.OpenRoot(bd.dir)
	if err != nil {
		return bd, fmt.Errorf("local: build dir: %w", err)
	}
	defer root.Close()
	own := func(rel string) error {
		if !s.chown {
			return nil
		}
		return root.Lchown(rel, s.uid, s.gid)
	}
	for _, d := range []string{".", "src", "out", "cache"} {
		if d != "." {
			if err := root.Mkdir(d, 0o755); err != nil {
				return bd, fmt.Errorf("local: build dir: %w", err)
			}
		}
		if err := own(d); err != nil {
			return bd, fmt.Errorf("local: build dir: %w", err)
		}
	}
	file := filepath.Join("src", rt.fileName())
	if err := root.WriteFile(file, []byte(code), 0o644); err != nil {
		return bd, s.fsError(rt.fileName(), err)
	}
	if err := own(file); err != nil {
		return bd, fmt.Errorf("local: build dir: %w", err)
	}
	if seed != "" {
		if err := copySeed(seed, root, "cache", own); err != nil {
			return bd, err
		}
	}
	if bd.fd, err = openPath(bd.dir); err != nil {
		return bd, fmt.Errorf("local: build dir: %w", err)
	}
	return bd, nil
}

// copySeed copies the trusted directory seed into dst of root, giving each
// copy to the sandbox (own). The sandbox changes only its copy.
func copySeed(seed string, root *os.Root, dst string, own func(string) error) error {
	err := filepath.WalkDir(seed, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(seed, p)
		if err != nil || rel == "." {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			if err := root.Mkdir(target, 0o755); err != nil {
				return err
			}
		case d.Type().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if err := root.WriteFile(target, data, 0o644); err != nil {
				return err
			}
		default:
			return nil
		}
		return own(target)
	})
	if err != nil {
		return fmt.Errorf("local: toolchain cache: %w", err)
	}
	return nil
}

func (bd *buildDir) remove() {
	if bd.fd != nil {
		_ = bd.fd.Close()
	}
	if bd.mounted {
		unmountUnder(bd.dir)
	}
	_ = removeAll(bd.dir)
}

// expand replaces the placeholders of vars in every argument.
func expand(argv []string, vars map[string]string) []string {
	out := slices.Clone(argv)
	for i, a := range out {
		for k, v := range vars {
			a = strings.ReplaceAll(a, k, v)
		}
		out[i] = a
	}
	return out
}

// sortedEnv renders variables as sorted KEY=value strings.
func sortedEnv(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// timeLeft is the time until ctx's deadline, or 0 without one.
func timeLeft(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return max(time.Until(d), time.Millisecond)
	}
	return 0
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "\n[... truncated]"
}

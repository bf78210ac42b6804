//go:build linux

package local

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/internal/textstream"
	"github.com/computemw/kit/providers/local/internal/cgroups"
)

// codeContext is a code context of a sandbox: its options and the driver
// that holds its interpreter's state (drivers/*).
type codeContext struct {
	info   computemw.CodeContext
	argv   []string // the driver's command line
	env    []string
	cwd    string
	marker string
	// turn is held by the execution running in the context: one at a
	// time, the others wait for their turn (or their context's end).
	turn chan struct{}

	mu  sync.Mutex
	drv *driver // nil once ended, or after its interpreter was killed
}

// current returns the context's driver.
func (c *codeContext) current() *driver {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.drv
}

// end kills the context's driver.
func (c *codeContext) end() {
	c.mu.Lock()
	d := c.drv
	c.drv = nil
	c.mu.Unlock()
	if d != nil {
		d.kill()
	}
}

// CreateContext implements computemw.ContextRunner: a driver for the
// language runs in the sandbox as a program started by its init, until
// the context is deleted or the sandbox destroyed. Python and JavaScript
// (node) have drivers.
func (s *sandbox) CreateContext(ctx context.Context, opts computemw.ContextOptions) (computemw.CodeContext, error) {
	if err := s.alive(); err != nil {
		return computemw.CodeContext{}, err
	}
	rt, err := s.runtime(opts.Language)
	if err != nil {
		return computemw.CodeContext{}, err
	}
	marker := newID("\x1ecomputemw-done") + "\x1e"
	argv, ok := driverArgv(rt, marker)
	if !ok || len(rt.HostDirs) > 0 {
		return computemw.CodeContext{}, computemw.Errorf(computemw.CodeExecution, "code contexts: language %q has no context interpreter (python and node have)", opts.Language)
	}
	cwd, err := s.cwd(opts.Cwd)
	if err != nil {
		return computemw.CodeContext{}, err
	}
	env := maps.Clone(opts.Env)
	if env == nil {
		env = map[string]string{}
	}
	if _, ok := env["MPLBACKEND"]; !ok {
		env["MPLBACKEND"] = "Agg"
	}
	environ, err := s.environ(env)
	if err != nil {
		return computemw.CodeContext{}, err
	}
	c := &codeContext{
		info: computemw.CodeContext{ID: newID("ctx"), Language: rt.Name, Cwd: opts.Cwd, Created: time.Now().UTC()},
		argv: argv, env: environ, cwd: cwd, marker: marker, turn: make(chan struct{}, 1),
	}
	// The context takes its place before its interpreter starts, so
	// that concurrent creations cannot pass the cap.
	s.mu.Lock()
	switch {
	case s.destroyed:
		s.mu.Unlock()
		return computemw.CodeContext{}, computemw.Errorf(computemw.CodeNotFound, "sandbox %s was destroyed", s.id)
	case len(s.contexts) >= s.p.cfg.MaxContexts:
		s.mu.Unlock()
		return computemw.CodeContext{}, computemw.Errorf(computemw.CodeResource, "at most %d code contexts per sandbox", s.p.cfg.MaxContexts)
	}
	if s.contexts == nil {
		s.contexts = map[string]*codeContext{}
	}
	s.contexts[c.info.ID] = c
	s.mu.Unlock()
	d, err := s.startDriver(ctx, argv, marker, environ, cwd)
	if err == nil {
		c.mu.Lock()
		c.drv = d
		c.mu.Unlock()
	}
	s.mu.Lock()
	_, kept := s.contexts[c.info.ID] // Destroy may have begun meanwhile
	if err != nil || !kept {
		delete(s.contexts, c.info.ID)
	}
	s.mu.Unlock()
	switch {
	case err != nil:
		return computemw.CodeContext{}, err
	case !kept:
		d.kill()
		return computemw.CodeContext{}, computemw.Errorf(computemw.CodeNotFound, "sandbox %s was destroyed", s.id)
	}
	return c.info, nil
}

// context returns context id of the sandbox, or NOT_FOUND.
func (s *sandbox) context(id string) (*codeContext, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.destroyed {
		return nil, computemw.Errorf(computemw.CodeNotFound, "sandbox %s was destroyed", s.id)
	}
	c, ok := s.contexts[id]
	if !ok {
		return nil, computemw.Errorf(computemw.CodeNotFound, "no context %q in sandbox %s", id, s.id)
	}
	return c, nil
}

// Contexts implements computemw.ContextRunner.
func (s *sandbox) Contexts(ctx context.Context) ([]computemw.CodeContext, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	out := make([]computemw.CodeContext, 0, len(s.contexts))
	for _, c := range s.contexts {
		out = append(out, c.info)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b computemw.CodeContext) int {
		if d := a.Created.Compare(b.Created); d != 0 {
			return d
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// RunInContext implements computemw.ContextRunner. An interpreter that a
// time limit had to kill, or that the code ended, is started again for
// the next execution (its state is then lost).
func (s *sandbox) RunInContext(ctx context.Context, id, code string, opts computemw.ExecOptions) (*computemw.ContextResult, error) {
	c, err := s.context(id)
	if err != nil {
		return nil, err
	}
	timeout := s.timeLimit(opts.Timeout)
	// The wait for the context's turn counts in the time limit.
	wctx, cancel := context.WithTimeoutCause(ctx, timeout, errTimeLimit)
	defer cancel()
	start := time.Now()
	select {
	case c.turn <- struct{}{}:
	case <-wctx.Done():
		if ctx.Err() == nil {
			return nil, &computemw.Error{Code: computemw.CodeTimeout, Message: fmt.Sprintf("execution exceeded its time limit of %s waiting for the context", timeout)}
		}
		return nil, fmt.Errorf("local: waiting for the context: %w", ctx.Err())
	}
	defer func() { <-c.turn }()
	d, err := c.ensure(ctx, s)
	if err != nil {
		return nil, err
	}
	maxOut := opts.MaxOutputBytes
	if maxOut <= 0 {
		maxOut = s.p.cfg.MaxOutputBytes
	}
	stdout, stderr := textstream.NewCapped(maxOut), textstream.NewCapped(maxOut)
	runCtx, cancelRun := context.WithCancelCause(ctx)
	defer cancelRun(nil)
	var before cgroups.Counters
	if s.cg != nil {
		before = s.cg.Read()
	}
	left := max(timeout-time.Since(start), time.Millisecond)
	res, killed, err := d.run(runCtx, code, left,
		textstream.Tee(stdout, opts.Stdout, cancelRun), textstream.Tee(stderr, opts.Stderr, cancelRun))
	if killed {
		c.mu.Lock()
		if c.drv == d {
			c.drv = nil
		}
		c.mu.Unlock()
		d.kill()
	}
	var tOut, tErr bool
	res.Stdout, tOut = stdout.Result()
	res.Stderr, tErr = stderr.Result()
	res.Truncated = res.Truncated || tOut || tErr
	res.ExecutionTime = time.Since(start)
	if res.Error != nil {
		res.ExitCode = 1
	}
	s.measure(&res.Result, s.cg, before)
	return res, err
}

// ensure returns the context's driver, starting a new one when the last
// was killed.
func (c *codeContext) ensure(ctx context.Context, s *sandbox) (*driver, error) {
	if d := c.current(); d != nil {
		select {
		case <-d.dead:
			c.end()
		default:
			return d, nil
		}
	}
	d, err := s.startDriver(ctx, c.argv, c.marker, c.env, c.cwd)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.drv = d
	c.mu.Unlock()
	if _, err := s.context(c.info.ID); err != nil {
		// Deleted, or the sandbox destroyed, while it started.
		c.end()
		return nil, err
	}
	return d, nil
}

// InterruptContext implements computemw.ContextRunner.
func (s *sandbox) InterruptContext(ctx context.Context, id string) error {
	c, err := s.context(id)
	if err != nil {
		return err
	}
	if d := c.current(); d != nil {
		d.interrupt()
	}
	return nil
}

// RestartContext implements computemw.ContextRunner: the interpreter is
// killed (an execution running in it ends with an error) and a new one
// started.
func (s *sandbox) RestartContext(ctx context.Context, id string) error {
	c, err := s.context(id)
	if err != nil {
		return err
	}
	c.end()
	select {
	case c.turn <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("local: restarting a context: %w", ctx.Err())
	}
	defer func() { <-c.turn }()
	_, err = c.ensure(ctx, s)
	return err
}

// DeleteContext implements computemw.ContextRunner.
func (s *sandbox) DeleteContext(ctx context.Context, id string) error {
	s.mu.Lock()
	c, ok := s.contexts[id]
	delete(s.contexts, id)
	s.mu.Unlock()
	if !ok {
		return computemw.Errorf(computemw.CodeNotFound, "no context %q in sandbox %s", id, s.id)
	}
	c.end()
	return nil
}

var _ computemw.ContextRunner = (*sandbox)(nil)

// Package fakeprovider is an in-memory computemw.Provider for tests of the
// core, the adapters and policies: sandboxes that run a tiny script
// language instead of programs, and count what they create and destroy.
package fakeprovider

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/computemw/kit/computemw"
)

// Provider is an in-memory [computemw.Provider] whose sandboxes run a
// tiny script language instead of programs, so that adapter and core tests
// exercise the contract and the lifecycle without process costs.
//
// A command (for Exec) or a program (for RunCode, in any of the languages
// python, node or bash) is one of:
//
//	echo TEXT      prints TEXT and a newline; exit 0
//	stderr TEXT    prints TEXT to stderr
//	exit N         exits with status N
//	true           exits 0 silently
//	sleep          prints "started\n", then waits for the timeout (TIMEOUT
//	               with that partial output) or the context
//	block          waits for the context only (a client disconnect)
//	oom            fails with RESOURCE_ERROR
//	big            prints output flagged as truncated
//	fail           fails with an internal error
//	panic          panics
//	lines N        streams N lines ("line 1\n" ...) as N separate writes
//	readline       reads one line of stdin and prints it
//
// With ExecOptions.Stdout or Stderr set, output is also written to them,
// as it is produced. Sandboxes also open fake terminals that echo input
// ("echo:" + input) and report a resize ("size ROWS COLS\n").
type Provider struct {
	name string

	// CreateErr, when set, makes Create fail with it.
	CreateErr error

	created   atomic.Int64
	destroyed atomic.Int64
	events    chan struct{}
	started   chan struct{}

	mu   sync.Mutex
	live map[string]*Sandbox
}

// New returns a Provider registered as name ("fake" if
// empty).
func New(name string) *Provider {
	if name == "" {
		name = "fake"
	}
	return &Provider{
		name:    name,
		events:  make(chan struct{}, 1),
		started: make(chan struct{}, 1024),
		live:    map[string]*Sandbox{},
	}
}

// Name implements computemw.Provider.
func (p *Provider) Name() string { return p.name }

// Languages implements computemw.LanguageLister.
func (p *Provider) Languages() []string { return []string{"bash", "node", "python"} }

// Runtimes implements computemw.LanguageLister: the languages by name.
func (p *Provider) Runtimes(context.Context) ([]computemw.Runtime, error) { return nil, nil }

// TemplateNames implements computemw.LanguageLister: none besides the
// languages.
func (p *Provider) TemplateNames() []string { return nil }

// Created is the number of sandboxes created so far.
func (p *Provider) Created() int64 { return p.created.Load() }

// Destroyed is the number of sandboxes destroyed so far.
func (p *Provider) Destroyed() int64 { return p.destroyed.Load() }

// Live is the number of sandboxes created and not yet destroyed.
func (p *Provider) Live() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.live)
}

// Started receives a value each time a sleep or block command begins, so
// a test can act while one is running.
func (p *Provider) Started() <-chan struct{} { return p.started }

func (p *Provider) signalStarted() {
	select {
	case p.started <- struct{}{}:
	default:
	}
}

// WaitLive waits until Live() == n or the timeout passes, and reports
// whether it got there. It wakes on each destroy, without polling.
func (p *Provider) WaitLive(n int, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for p.Live() != n {
		select {
		case <-p.events:
		case <-deadline.C:
			return p.Live() == n
		}
	}
	return true
}

// Create implements computemw.Provider.
func (p *Provider) Create(ctx context.Context, opts computemw.CreateOptions) (computemw.Sandbox, error) {
	if p.CreateErr != nil {
		return nil, p.CreateErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n := p.created.Add(1)
	sb := &Sandbox{p: p, id: fmt.Sprintf("%s-%d", p.name, n), env: maps.Clone(opts.Env), files: map[string][]byte{}}
	p.mu.Lock()
	p.live[sb.id] = sb
	p.mu.Unlock()
	return sb, nil
}

// Sandbox is a sandbox of a [Provider].
type Sandbox struct {
	p   *Provider
	id  string
	env map[string]string

	mu        sync.Mutex
	files     map[string][]byte
	destroyed bool
	execs     int64
}

// ID implements computemw.Sandbox.
func (s *Sandbox) ID() string { return s.id }

// Provider implements computemw.Sandbox.
func (s *Sandbox) Provider() string { return s.p.name }

func (s *Sandbox) alive() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.destroyed {
		return computemw.Errorf(computemw.CodeNotFound, "sandbox %s was destroyed", s.id)
	}
	return nil
}

// Exec implements computemw.Sandbox by interpreting the script language.
func (s *Sandbox) Exec(ctx context.Context, command string, opts computemw.ExecOptions) (*computemw.Result, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	if err := refuseOptions(s.p.name, opts); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.execs++
	s.mu.Unlock()
	start := time.Now()
	verb, arg, _ := strings.Cut(strings.TrimSpace(command), " ")
	res := &computemw.Result{}
	done := func() (*computemw.Result, error) {
		res.ExecutionTime = time.Since(start)
		if opts.Stdout != nil && res.Stdout != "" && verb != "lines" && verb != "readline" {
			if _, err := io.WriteString(opts.Stdout, res.Stdout); err != nil {
				return res, err
			}
		}
		if opts.Stderr != nil && res.Stderr != "" {
			if _, err := io.WriteString(opts.Stderr, res.Stderr); err != nil {
				return res, err
			}
		}
		return res, nil
	}
	switch verb {
	case "echo":
		res.Stdout = arg + "\n"
	case "stderr":
		res.Stderr = arg + "\n"
	case "exit":
		n, err := strconv.Atoi(arg)
		if err != nil {
			return nil, computemw.Errorf(computemw.CodeExecution, "exit: bad status %q", arg)
		}
		res.ExitCode = n
	case "true":
	case "sleep":
		res.Stdout = "started\n"
		s.p.signalStarted()
		timeout := opts.Timeout
		if timeout <= 0 {
			timeout = time.Minute
		}
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case <-t.C:
			res.ExitCode = 137
			res.ExecutionTime = time.Since(start)
			return res, &computemw.Error{Code: computemw.CodeTimeout, Message: "execution exceeded its time limit"}
		case <-ctx.Done():
			return res, ctx.Err()
		}
	case "block":
		s.p.signalStarted()
		<-ctx.Done()
		return res, ctx.Err()
	case "oom":
		res.ExitCode = 137
		return res, &computemw.Error{Code: computemw.CodeResource, Message: "memory limit exceeded"}
	case "big":
		res.Stdout = strings.Repeat("x", 1024)
		res.Truncated = true
	case "fail":
		return nil, fmt.Errorf("fake: secret internal detail /var/lib/fake")
	case "lines":
		n, err := strconv.Atoi(arg)
		if err != nil {
			return nil, computemw.Errorf(computemw.CodeExecution, "lines: bad count %q", arg)
		}
		var all strings.Builder
		for i := 1; i <= n; i++ {
			line := fmt.Sprintf("line %d\n", i)
			all.WriteString(line)
			if opts.Stdout != nil {
				if _, err := io.WriteString(opts.Stdout, line); err != nil {
					return res, err
				}
			}
		}
		res.Stdout = all.String()
	case "readline":
		if opts.Stdin == nil {
			break
		}
		line, err := bufio.NewReader(opts.Stdin).ReadString('\n')
		if err != nil && line == "" {
			break
		}
		res.Stdout = line
		if opts.Stdout != nil {
			if _, err := io.WriteString(opts.Stdout, line); err != nil {
				return res, err
			}
		}
	case "panic":
		panic("fake: panic requested")
	default:
		res.Stderr = verb + ": command not found\n"
		res.ExitCode = 127
	}
	return done()
}

// RunCode implements computemw.Sandbox: the code is a script command.
func (s *Sandbox) RunCode(ctx context.Context, language, code string, opts computemw.ExecOptions) (*computemw.Result, error) {
	if !slices.Contains(s.p.Languages(), language) {
		return nil, computemw.Errorf(computemw.CodeExecution, "unsupported language %q", language)
	}
	return s.Exec(ctx, code, opts)
}

// refuseOptions answers the options the script language has no means
// for, as a provider without them does: Unsupported.
func refuseOptions(provider string, opts computemw.ExecOptions) error {
	switch {
	case opts.Version != "":
		return computemw.Unsupported(provider, "choosing a language version")
	case len(opts.CompileOptions) > 0:
		return computemw.Unsupported(provider, "compile options")
	case opts.CompileTimeout > 0:
		return computemw.Unsupported(provider, "a compile time limit")
	case opts.MergeStderr:
		return computemw.Unsupported(provider, "merging stderr into stdout")
	}
	return nil
}

func fakePath(p string) (string, error) {
	if strings.HasPrefix(p, "/workspace/") {
		p = strings.TrimPrefix(p, "/workspace/")
	} else if path.IsAbs(p) {
		return "", computemw.Errorf(computemw.CodeBadRequest, "path %q is outside the workspace", p)
	}
	c := path.Clean(p)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", computemw.Errorf(computemw.CodeBadRequest, "path %q escapes the workspace", p)
	}
	return c, nil
}

// ReadFile implements computemw.Sandbox.
func (s *Sandbox) ReadFile(ctx context.Context, p string) ([]byte, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	c, err := fakePath(p)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.files[c]
	if !ok {
		return nil, computemw.Errorf(computemw.CodeNotFound, "no such file or directory: %s", p)
	}
	return slices.Clone(b), nil
}

// WriteFile implements computemw.Sandbox.
func (s *Sandbox) WriteFile(ctx context.Context, p string, data []byte) error {
	if err := s.alive(); err != nil {
		return err
	}
	c, err := fakePath(p)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[c] = slices.Clone(data)
	return nil
}

// ListFiles implements computemw.Sandbox: files directly in dir.
func (s *Sandbox) ListFiles(ctx context.Context, p string) ([]computemw.FileInfo, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	dir, err := fakePath(p)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []computemw.FileInfo
	for _, name := range slices.Sorted(maps.Keys(s.files)) {
		if path.Dir(name) == dir {
			out = append(out, computemw.FileInfo{Name: path.Base(name), Path: "/workspace/" + name, Type: "file", Size: int64(len(s.files[name]))})
		}
	}
	return out, nil
}

// Stat implements computemw.Sandbox.
func (s *Sandbox) Stat(ctx context.Context, p string) (computemw.FileInfo, error) {
	b, err := s.ReadFile(ctx, p)
	if err != nil {
		return computemw.FileInfo{}, err
	}
	c, _ := fakePath(p)
	return computemw.FileInfo{Name: path.Base(c), Path: "/workspace/" + c, Type: "file", Size: int64(len(b))}, nil
}

// Mkdir implements computemw.Sandbox (directories are implicit).
func (s *Sandbox) Mkdir(ctx context.Context, p string) error {
	if err := s.alive(); err != nil {
		return err
	}
	_, err := fakePath(p)
	return err
}

// Remove implements computemw.Sandbox.
func (s *Sandbox) Remove(ctx context.Context, p string) error {
	if _, err := s.ReadFile(ctx, p); err != nil {
		return err
	}
	c, _ := fakePath(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.files, c)
	return nil
}

// Usage implements computemw.Sandbox.
func (s *Sandbox) Usage(ctx context.Context) (computemw.Usage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return computemw.Usage{Executions: s.execs}, nil
}

// Destroy implements computemw.Sandbox; it is idempotent.
func (s *Sandbox) Destroy(ctx context.Context) error {
	s.mu.Lock()
	if s.destroyed {
		s.mu.Unlock()
		return nil
	}
	s.destroyed = true
	s.mu.Unlock()
	s.p.mu.Lock()
	delete(s.p.live, s.id)
	s.p.mu.Unlock()
	s.p.destroyed.Add(1)
	select {
	case s.p.events <- struct{}{}:
	default:
	}
	return nil
}

// OpenTerminal implements computemw.TerminalOpener with an echoing fake.
func (s *Sandbox) OpenTerminal(ctx context.Context, opts computemw.TerminalOptions) (computemw.Terminal, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	r, w := io.Pipe()
	return &fakeTerminal{r: r, w: w}, nil
}

type fakeTerminal struct {
	r    *io.PipeReader
	w    *io.PipeWriter
	once sync.Once
}

func (t *fakeTerminal) Read(p []byte) (int, error) { return t.r.Read(p) }

func (t *fakeTerminal) Write(p []byte) (int, error) {
	if _, err := io.WriteString(t.w, "echo:"+string(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (t *fakeTerminal) Resize(cols, rows uint16) error {
	_, err := fmt.Fprintf(t.w, "size %d %d\n", rows, cols)
	return err
}

func (t *fakeTerminal) Close() error {
	t.once.Do(func() { t.w.Close() })
	return nil
}

func (t *fakeTerminal) Wait() (int, error) { return 0, nil }

// Attach implements computemw.Attacher: it returns the live sandbox id, as
// a remote provider reaches a sandbox by its ID from any kit instance
// (kits sharing one Provider play instances sharing one remote service).
func (p *Provider) Attach(_ context.Context, id string) (computemw.Sandbox, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sb, ok := p.live[id]
	if !ok {
		return nil, computemw.Errorf(computemw.CodeNotFound, "sandbox %q not found", id)
	}
	return sb, nil
}

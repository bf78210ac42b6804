//go:build linux

package local

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local/internal/cgroups"
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
	p        *Provider
	id       string
	ws       string   // host path of the workspace
	wsFile   *os.File // descriptor of the workspace (O_PATH), opened at creation
	mntns    *os.File // the mount namespace where ws is a tmpfs of its own (mountns.go); nil for a plain directory
	root     *os.Root
	cg       cgroups.Group // nil without cgroups
	cgID     string        // the ID its cgroup is named after (that of the sandbox it was made for)
	env      map[string]string
	network  bool
	lim      cgroups.Limits
	maxExec  time.Duration // the longest one execution may run
	uid, gid int           // the host ids its processes run as
	lease    *uidLease     // holds uid for this sandbox alone, or nil
	chown    bool          // host-created files are given to uid:gid
	initMu   sync.Mutex    // held while the init starts
	init     *initProc     // the init processes start from once it runs; nil before
	held     *heldShell    // the warm pool's first process, waiting for a command (held.go); under mu
	tmpl     *fsTemplate   // the root filesystem it runs on; nil: the host's

	mu        sync.Mutex
	destroyed bool
	runs      map[*exec.Cmd]bool // true once started: Destroy may kill it
	contexts  map[string]*codeContext
	readers   map[*fileReader]bool
	terms     map[*terminal]bool // terminals whose master the host holds
	wg        sync.WaitGroup
	fileOps   sync.WaitGroup // file operations in progress (using)

	once       sync.Once
	destroyErr error

	walkOps atomic.Int64 // system calls of the file API's walks (tests count them)

	cpu        atomic.Int64 // nanoseconds, summed over executions
	peak       atomic.Int64
	executions atomic.Int64
	idleMem    int64        // memory when it became ready in the warm pool
	active     atomic.Int64 // executions in progress

	// liveInit is the init once its process starts (init is set once it
	// serves): Destroy kills it through this, without waiting for initMu.
	// The init's process is not one of runs: a recycled sandbox's init
	// passes to the sandbox that succeeds it (recycle.go).
	liveInit atomic.Pointer[initProc]
	reuse    reuseState
}

// Create implements computemw.Provider.
func (p *Provider) Create(ctx context.Context, opts computemw.CreateOptions) (computemw.Sandbox, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if opts.Network && !p.cfg.AllowNetwork {
		return nil, &computemw.Error{Code: computemw.CodeForbidden, Message: "network access is disabled for sandboxes"}
	}
	tmpl, err := p.templateFor(opts.Template)
	if err != nil {
		return nil, err
	}
	if err := checkEnv(opts.Env); err != nil {
		return nil, err
	}
	// The pool's sandboxes run on the default root filesystem.
	recyclable := false
	if def, _ := p.templateFor(""); tmpl == def {
		if sb := p.pool.take(ctx, opts); sb != nil {
			return sb, nil
		}
		recyclable = p.pool.recycles(opts)
	}
	sb, err := p.createCold(ctx, opts, tmpl)
	if err != nil {
		return nil, err
	}
	if recyclable {
		// Made on the spot for a create the pool could have served, it
		// joins the pool's sandboxes once its owner is done: under a
		// load that never pauses, the pool makes none, and the sandboxes
		// made for the creates it missed are what it grows by.
		if err := sb.startRecyclable(ctx); err != nil {
			_ = sb.Destroy(context.WithoutCancel(ctx))
			return nil, err
		}
		sb.reuse.handedOut = true
		sb.reuse.owner = opts.Owner
	}
	return sb, nil
}

// createCold makes a new sandbox: workspace and cgroup. Its init starts
// with its second execution, or its first terminal or background process:
// a sandbox made on the spot and used once (a request's) never pays for
// one. The warm pool starts the init of the sandboxes it makes.
func (p *Provider) createCold(ctx context.Context, opts computemw.CreateOptions, tmpl *fsTemplate) (*sandbox, error) {
	sb := p.blankSandbox(tmpl)
	sb.env = maps.Clone(opts.Env)
	sb.network = opts.Network
	sb.lim = p.limitsFor(opts.Resources)
	if t := opts.Resources.MaxExecutionTime; t > 0 && t < sb.maxExec {
		sb.maxExec = t
	}
	sb.reuse.born = time.Now()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, &computemw.Error{Code: computemw.CodeUnavailable, Message: "local provider is closed"}
	}
	ids, err := p.iso.sandboxIDs()
	if err != nil {
		p.mu.Unlock()
		return nil, err
	}
	sb.uid, sb.gid, sb.lease = ids.uid, ids.gid, ids.lease
	sb.chown = sb.uid != os.Geteuid()
	p.sandboxes[sb.id] = sb
	p.mu.Unlock()

	if err := sb.provision(); err != nil {
		_ = sb.Destroy(context.WithoutCancel(ctx))
		return nil, err
	}
	return sb, nil
}

// blankSandbox is a sandbox with a new ID and the provider's defaults,
// not yet provisioned.
func (p *Provider) blankSandbox(tmpl *fsTemplate) *sandbox {
	return &sandbox{
		p:       p,
		id:      newID(sandboxPrefix),
		lim:     p.limitsFor(computemw.Resources{}),
		maxExec: p.cfg.MaxExecTimeout,
		runs:    map[*exec.Cmd]bool{},
		readers: map[*fileReader]bool{},
		terms:   map[*terminal]bool{},
		tmpl:    tmpl,
	}
}

// provision makes the workspace and the cgroup. Destroy undoes whatever
// part of it succeeded. After this, the workspace is only reached through
// the descriptors opened here (wsFile, root), never by its path.
func (s *sandbox) provision() error {
	s.ws = filepath.Join(s.p.dir, s.id)
	if err := os.Mkdir(s.ws, 0o700); err != nil {
		return fmt.Errorf("local: workspace: %w", err)
	}
	var f *os.File
	var err error
	if s.p.tmpfsWS {
		s.mntns, f, err = s.p.threads.workspace(s.ws, s.p.tmpfsOptions(s.uid, s.gid))
	} else {
		f, err = openPath(s.ws)
	}
	if err != nil {
		return fmt.Errorf("local: workspace: %w", err)
	}
	s.wsFile = f
	if s.chown {
		if err := unix.Fchownat(int(f.Fd()), "", s.uid, s.gid, unix.AT_EMPTY_PATH); err != nil {
			return fmt.Errorf("local: workspace: %w", err)
		}
	}
	root, err := os.OpenRoot(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
	if err != nil {
		return fmt.Errorf("local: workspace: %w", err)
	}
	s.root = root
	if s.p.cg != nil {
		s.cgID = s.id
		g, err := s.p.cg.Create(s.p.cgroupRel(s.cgID), s.lim)
		if err != nil {
			return fmt.Errorf("local: %w", err)
		}
		s.cg = g
	}
	return nil
}

// limitsFor clamps requested resources to the provider's maximum.
func (p *Provider) limitsFor(r computemw.Resources) cgroups.Limits {
	l := cgroups.Limits{
		MemoryBytes: int64(p.cfg.MemoryMB) << 20,
		Pids:        int64(p.cfg.MaxProcesses),
		CPUCores:    p.cfg.CPUCores,
	}
	if r.MemoryMB > 0 && int64(r.MemoryMB)<<20 < l.MemoryBytes {
		l.MemoryBytes = int64(r.MemoryMB) << 20
	}
	if r.MaxProcesses > 0 && int64(r.MaxProcesses) < l.Pids {
		l.Pids = int64(r.MaxProcesses)
	}
	if r.CPUCores > 0 && r.CPUCores < l.CPUCores {
		l.CPUCores = r.CPUCores
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

// inside maps a workspace-relative path to the path a sandboxed process
// sees.
func (s *sandbox) inside(rel string) string { return s.p.iso.inside(s.ws, rel) }

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

// enter registers an execution that runs through the init, starting the
// init if it does not run yet; Destroy waits for it to leave.
func (s *sandbox) enter(ctx context.Context) (*initProc, error) {
	s.mu.Lock()
	if s.destroyed {
		s.mu.Unlock()
		return nil, computemw.Errorf(computemw.CodeNotFound, "sandbox %s was destroyed", s.id)
	}
	s.wg.Add(1)
	s.mu.Unlock()
	s.initMu.Lock()
	defer s.initMu.Unlock()
	if s.init == nil {
		if err := s.startInit(ctx); err != nil {
			s.wg.Done()
			return nil, err
		}
		// No execution will need the held shell now.
		s.dropHeld()
	}
	return s.init, nil
}

// hasInit reports whether the sandbox's init runs (or ran).
func (s *sandbox) hasInit() bool {
	s.initMu.Lock()
	defer s.initMu.Unlock()
	return s.init != nil
}

func (s *sandbox) leave() { s.wg.Done() }

// initAlive reports whether the sandbox's init runs.
func (s *sandbox) initAlive() bool {
	s.initMu.Lock()
	defer s.initMu.Unlock()
	if s.init == nil {
		return false
	}
	select {
	case <-s.init.dead:
		return false
	default:
		return true
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
		// The cgroup's counters are exact even when executions overlapped
		// (their Results' CPU times then count each other's), and hold
		// background processes too.
		c := s.cg.Read()
		if c.CPU > 0 {
			u.CPUTime = c.CPU - s.reuse.cgBase.CPU
		}
		u.PeakMemory = max(u.PeakMemory, c.Peak)
	}
	return u, nil
}

// destroyGrace is how long Destroy waits for a sandbox's processes to end
// with its PID namespaces before it kills them through the cgroup.
const destroyGrace = 100 * time.Millisecond

// Destroy implements computemw.Sandbox: it kills every process, waits for
// running executions to return, closes the readers OpenFile handed out,
// and removes the cgroup and the workspace.
func (s *sandbox) Destroy(ctx context.Context) error {
	s.once.Do(func() {
		s.retire()
		if s.recycle(ctx) {
			return
		}
		s.destroyErr = s.teardown(ctx)
	})
	return s.destroyErr
}

// retire ends the sandbox for its user: no execution, file operation or
// terminal starts in it from now on; its code contexts end, the
// executions that bwrap started apart are killed, the readers OpenFile
// handed out and the terminals' masters are closed.
func (s *sandbox) retire() {
	s.mu.Lock()
	s.destroyed = true
	contexts := s.contexts
	s.contexts = nil
	s.mu.Unlock()
	// Code contexts end first: their interpreters are executions
	// that would otherwise keep the sandbox busy.
	for _, c := range contexts {
		c.end()
	}
	s.mu.Lock()
	for cmd, started := range s.runs {
		if started {
			killTree(cmd)
		}
	}
	readers := make([]*fileReader, 0, len(s.readers))
	for r := range s.readers {
		readers = append(readers, r)
	}
	terms := make([]*terminal, 0, len(s.terms))
	for t := range s.terms {
		terms = append(terms, t)
	}
	s.mu.Unlock()
	for _, r := range readers {
		_ = r.Close()
	}
	// A terminal's master, still open on the host, would keep its
	// pseudo-terminal in the sandbox's /dev/pts for the next user.
	for _, t := range terms {
		t.closeMaster()
	}
}

// teardown kills every process of a retired sandbox, waits for its
// executions to return, and removes its cgroup and workspace.
func (s *sandbox) teardown(ctx context.Context) error {
	ip := s.liveInit.Load()
	if ip != nil {
		ip.kill()
	}
	var errs []error
	waited := make(chan struct{})
	go func() { s.wg.Wait(); close(waited) }()
	// Killing a sandbox's bwrap monitors ends its PID namespaces,
	// every process in them with it: usually all is gone at once,
	// and the cgroup is found empty. Whatever is not gone soon is
	// killed through the cgroup (frozen first, so nothing forks
	// away), then waited for.
	select {
	case <-waited:
	case <-time.After(destroyGrace):
	case <-ctx.Done():
	}
	if s.cg != nil {
		_ = s.cg.Kill()
	}
	select {
	case <-waited:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("local: destroy %s: executions still running: %w", s.id, ctx.Err()))
	}
	if ip != nil {
		select {
		case <-ip.exited:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("local: destroy %s: its init still runs: %w", s.id, ctx.Err()))
		}
	}
	if s.cg != nil {
		if err := s.cg.Remove(); err != nil {
			errs = append(errs, fmt.Errorf("local: destroy %s: %w", s.id, err))
		}
	}
	if ip != nil {
		_ = ip.conn.Close()
	}
	if s.root != nil {
		_ = s.root.Close()
	}
	if s.wsFile != nil {
		_ = s.wsFile.Close()
	}
	// The workspace's tmpfs ends with the last descriptor of its
	// namespace, once no process is left in it.
	if s.mntns != nil {
		_ = s.mntns.Close()
	}
	if s.ws != "" {
		if err := removeAll(s.ws); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("local: destroy %s: %w", s.id, err))
		}
	}
	// The uid goes back to the pool only when nothing of the sandbox
	// can be left running as it.
	if len(errs) == 0 {
		s.lease.release()
	} else if s.lease != nil {
		s.p.log.Error("computemw/local: a destroyed sandbox's uid stays leased", "sandbox", s.id, "uid", s.uid)
	}
	s.p.mu.Lock()
	delete(s.p.sandboxes, s.id)
	s.p.mu.Unlock()
	return errors.Join(errs...)
}

var _ computemw.Sandbox = (*sandbox)(nil)

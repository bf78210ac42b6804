//go:build linux

package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local/internal/cgroups"
	"github.com/computemw/kit/providers/local/internal/seccomp"
	"github.com/computemw/kit/providers/local/internal/startgate"
)

// Provider is the local provider. It is safe for concurrent use.
type Provider struct {
	// The fields are grouped by the part of the provider they belong
	// to; New sets up each part once.
	cfg Config
	log *slog.Logger

	// The instance: this provider's directory under BaseDir and cgroup
	// under CgroupParent, with the lock that marks it alive
	// (reclaim.go).
	instance string
	dir      string   // BaseDir/instance
	lock     *os.File // flock held for the provider's lifetime
	rootUser bool

	// Isolation: how a profile is applied (isolation.go: bwrap, or the
	// development mode without namespaces), and what every profile
	// holds (profile.go).
	iso      isolation
	seccomp  []byte   // compiled system-call filter (internal/seccomp), or nil
	binds    []string // bwrap arguments for the system directories
	etcBinds []string // and for the host's /etc entries, one by one
	etcDir   string   // generated passwd, group, hosts, hostname
	etc      []*os.File
	// etcStage is etcDir, opened, when the namespace every workspace's
	// is copied from has the host's /etc entries bound in it
	// (mountns.go: makeBase): a sandbox then binds it as its /etc.
	etcStage *os.File
	exe      *os.File // the binary every sandbox's init runs (initstart.go)

	// Cgroups (internal/cgroups): nil without them. joinCgroups: a
	// sandbox's first process is born in its cgroup, started from a
	// thread that joined it (workspace.go: probeJoin).
	cg          cgroups.Driver
	joinCgroups bool

	// Workspaces: size-capped tmpfs mounts (tmpfsWS), made and entered
	// by threads in mount namespaces of their own (mountns.go).
	tmpfsWS bool
	threads *nsThreads

	// Languages: the runtime table, and the compiled languages' build
	// cache, toolchains and templates (toolchain.go, template.go).
	rt *runtimeTable
	tc *toolchains

	// Scheduling: the warm pool (nil when off) and the start gate
	// (internal/startgate; nil when off). running counts executions in
	// progress, and lastExec is when one last started or ended
	// (UnixNano): the pool makes sandboxes only when none ran for
	// PoolConfig.Quiet (pool.go).
	pool     *pool
	gate     *startgate.Gate
	running  atomic.Int64
	lastExec atomic.Int64

	// The sandboxes made and not yet destroyed.
	mu        sync.Mutex
	sandboxes map[string]*sandbox
	closed    bool

	// hook, set only by tests (export_test.go: SetSpawnHook), is called
	// at each stage of a process's start-up (spawn.go: stage).
	hook atomic.Pointer[func(stage string)]
}

// New starts a local provider: it checks bwrap, cgroups and BaseDir,
// reclaims workspaces and cgroups orphaned by crashed servers, and
// resolves the runtime table against the host.
func New(cfg Config) (*Provider, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	p := &Provider{cfg: cfg, log: cfg.Logger, rootUser: os.Geteuid() == 0, sandboxes: map[string]*sandbox{}}

	iso, err := newIsolation(&p.cfg, p.log)
	if err != nil {
		return nil, err
	}
	p.iso = iso

	cg, err := cgroups.NewDriver()
	if err == nil {
		err = probeCgroup(cg, cfg.CgroupParent)
	}
	if err != nil {
		if !cfg.AllowNoCgroups {
			return nil, fmt.Errorf("local: cgroups are unavailable (%w); run as root, delegate a writable cgroup subtree and set CgroupParent, or set AllowNoCgroups to run with rlimits only", err)
		}
		p.log.Warn("computemw/local: cgroups unavailable: sandboxes have NO memory, process or CPU caps", "error", err)
		cg = nil
	}
	p.cg = cg

	if err := prepareBaseDir(cfg.BaseDir, p.iso.otherUIDs()); err != nil {
		return nil, err
	}
	if err := p.iso.setup(cfg.BaseDir, p.rlimits()); err != nil {
		return nil, err
	}
	p.reclaimOrphans()

	p.instance = newID(instancePrefix)
	p.dir = filepath.Join(cfg.BaseDir, p.instance)
	if err := os.Mkdir(p.dir, instanceMode(p.iso.otherUIDs())); err != nil {
		return nil, fmt.Errorf("local: instance dir: %w", err)
	}
	if p.lock, err = lockInstance(filepath.Join(cfg.BaseDir, p.instance+".lock")); err != nil {
		_ = os.RemoveAll(p.dir)
		return nil, err
	}
	if err := p.writeEtc(); err != nil {
		p.cleanupInstance()
		return nil, err
	}
	if err := p.probeTmpfsWorkspaces(); err != nil {
		p.log.Warn("computemw/local: workspaces are plain directories with no size cap (only the file-size rlimit bounds a file); run as root to give each its own tmpfs", "reason", err)
	} else {
		p.tmpfsWS = true
	}
	if err := p.openInitBinary(); err != nil {
		p.cleanupInstance()
		return nil, err
	}
	p.binds = systemBinds(cfg.SystemDirs)
	p.etcBinds = etcBinds()
	if !cfg.DisableSeccomp {
		if p.seccomp, err = seccomp.Program(); err != nil {
			p.cleanupInstance()
			return nil, fmt.Errorf("local: %w", err)
		}
	}
	p.rt, err = newRuntimeTable(cfg.Runtimes, p.iso.visible)
	if err != nil {
		p.cleanupInstance()
		return nil, err
	}
	if p.tc, err = newToolchains(p); err != nil {
		p.cleanupInstance()
		return nil, err
	}
	for name, why := range p.rt.missing {
		p.log.Debug("computemw/local: runtime unavailable", "language", name, "reason", why)
	}
	p.pool = newPool(p, cfg.WarmPool)
	p.gate = startgate.New(cfg.StartGate.Slots, cfg.StartGate.Hold)
	p.logMode()
	return p, nil
}

// logMode says at start which mode the provider runs in and what that
// mode does not enforce.
func (p *Provider) logMode() {
	mode := "root"
	var lacks []string
	if !p.rootUser {
		mode = "unprivileged"
		lacks = append(lacks, "every sandbox runs as the server's own uid (no uid per sandbox)")
	}
	if !p.tmpfsWS {
		lacks = append(lacks, "workspaces have no size cap beyond the file-size limit")
	}
	cgroup := "none"
	if p.cg == nil {
		mode += ", no cgroups"
		lacks = append(lacks, "no memory, process or CPU caps, no CPU and memory measurement")
	} else {
		cgroup = fmt.Sprintf("v%d under %s", p.cg.Version(), p.cfg.CgroupParent)
	}
	if p.seccomp == nil {
		lacks = append(lacks, "no seccomp filter")
	}
	attrs := []any{"mode", mode, "cgroups", cgroup, "baseDir", p.cfg.BaseDir}
	if len(lacks) > 0 {
		attrs = append(attrs, "notEnforced", strings.Join(lacks, "; "))
	}
	p.log.Info("computemw/local: isolation mode", attrs...)
}

// Name implements computemw.Provider.
func (p *Provider) Name() string { return Name }

// Languages implements computemw.LanguageLister: the names and aliases of
// every runtime present on this host or in one of its templates.
func (p *Provider) Languages() []string { return p.languages() }

// PoolStats implements computemw.PoolReporter.
func (p *Provider) PoolStats() computemw.PoolStats { return p.pool.stats() }

// StartGateStats implements computemw.StartGateReporter: the start gate's
// state (Config.StartGate).
func (p *Provider) StartGateStats() computemw.StartGateStats { return p.gate.Stats() }

// SandboxCount returns how many sandboxes exist: made and not yet
// destroyed, the warm pool's ready ones included.
func (p *Provider) SandboxCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sandboxes)
}

// CgroupVersion is 1 or 2, or 0 when the provider runs without cgroups.
func (p *Provider) CgroupVersion() int {
	if p.cg == nil {
		return 0
	}
	return p.cg.Version()
}

// Close destroys every sandbox the provider still has and removes its
// instance directory and cgroups.
func (p *Provider) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	poolErr := p.pool.close(ctx)
	if p.tc != nil {
		p.tc.stop()
	}
	p.mu.Lock()
	left := make([]*sandbox, 0, len(p.sandboxes))
	for _, sb := range p.sandboxes {
		left = append(left, sb)
	}
	p.mu.Unlock()
	errs := []error{poolErr}
	for _, sb := range left {
		errs = append(errs, sb.Destroy(ctx))
	}
	errs = append(errs, p.cleanupInstance())
	return errors.Join(errs...)
}

var _ computemw.Provider = (*Provider)(nil)

// cgroupRel is the cgroup path of a sandbox (or of the instance for "").
func (p *Provider) cgroupRel(id string) string {
	return filepath.Join("/", p.cfg.CgroupParent, p.instance, id)
}

func (p *Provider) cleanupInstance() error {
	var errs []error
	if p.threads != nil {
		p.threads.close()
	}
	if p.cg != nil {
		for _, dir := range p.cg.Paths(p.cgroupRel("")) {
			if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	for _, f := range p.etc {
		_ = f.Close()
	}
	if p.etcStage != nil {
		_ = p.etcStage.Close()
	}
	if p.exe != nil {
		_ = p.exe.Close()
	}
	unmountUnder(p.dir)
	if err := removeAll(p.dir); err != nil {
		errs = append(errs, err)
	}
	_ = os.Remove(filepath.Join(p.cfg.BaseDir, uidsDir)) // once no provider leases
	if p.lock != nil {
		_ = os.Remove(p.lock.Name())
		_ = p.lock.Close()
	}
	return errors.Join(errs...)
}

// etcNames are the files of /etc that the provider generates for every
// sandbox, in the order of Provider.etc.
var etcNames = [numEtc]string{"passwd", "group", "hosts", "hostname"}

// numEtc is the number of generated /etc files.
const numEtc = 4

// writeEtc generates the sandbox's own /etc/passwd, group, hosts and
// hostname, and keeps a descriptor of each for bwrap's --ro-bind-fd.
func (p *Provider) writeEtc() error {
	p.etcDir = filepath.Join(p.dir, "etc")
	if err := os.Mkdir(p.etcDir, 0o755); err != nil {
		return fmt.Errorf("local: %w", err)
	}
	content := map[string]string{
		"passwd":   fmt.Sprintf("root:x:0:0:root:/root:/bin/sh\nsandbox:x:%d:%d:sandbox:/workspace:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n", sandboxUID, sandboxGID),
		"group":    fmt.Sprintf("root:x:0:\nsandbox:x:%d:\nnogroup:x:65534:\n", sandboxGID),
		"hosts":    "127.0.0.1 localhost sandbox\n::1 localhost ip6-localhost ip6-loopback\n",
		"hostname": "sandbox\n",
	}
	for _, name := range etcNames {
		path := filepath.Join(p.etcDir, name)
		if err := os.WriteFile(path, []byte(content[name]), 0o644); err != nil {
			return fmt.Errorf("local: %w", err)
		}
		f, err := openPath(path)
		if err != nil {
			return fmt.Errorf("local: %w", err)
		}
		p.etc = append(p.etc, f)
	}
	return nil
}

// probeCgroup checks that a sandbox cgroup can be created and removed.
func probeCgroup(d cgroups.Driver, parent string) error {
	rel := filepath.Join("/", parent, newID("probe"))
	g, err := d.Create(rel, cgroups.Limits{MemoryBytes: 64 << 20, Pids: 16})
	if err != nil {
		return err
	}
	return g.Remove()
}

// newID returns prefix-<16 hex digits>, the shape of every instance and
// sandbox name (reclaim trusts no other).
func newID(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

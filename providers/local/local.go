// Package local is computemw's embedded default provider: isolated
// sandboxes on this Linux host, with no daemon.
//
// Each sandbox is a workspace directory plus an isolation profile applied to
// every process started in it by bubblewrap (bwrap): new user, PID, mount,
// IPC, UTS, cgroup and network namespaces; read-only system directories; the
// workspace as the only writable host directory; a size-capped tmpfs /tmp; an
// unprivileged uid with no capabilities and no further user namespaces. A
// cgroup per sandbox (v2, or v1 where that is what the host mounts) caps
// memory, processes and CPU, and measures CPU time and peak memory;
// rlimits cap file size and open files as a floor. A wall-clock timeout kills
// the whole process tree, and destroying a sandbox leaves no process,
// workspace or cgroup. Workspaces and cgroups orphaned by a crashed server
// are reclaimed when the next provider starts on the same base directory.
//
// Where bwrap is missing, [New] fails with an error naming the package to
// install. [Config.InsecureNoNamespaces] runs without namespaces for
// development only, and says so loudly in the log.
package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Name is the provider's registry name.
const Name = "local"

// Config configures the local provider. Zero fields take the defaults shown.
type Config struct {
	// BwrapPath is the bubblewrap binary; default: "bwrap" from PATH.
	BwrapPath string
	// BaseDir holds workspaces; default: $TMPDIR/computemw-local. Several
	// providers (and processes) may share it.
	BaseDir string
	// CgroupParent is the cgroup (relative to the hierarchy root) under
	// which sandbox cgroups are created; default "computemw". It must be
	// writable by this process (root, or a delegated subtree).
	CgroupParent string
	// AllowNoCgroups lets the provider start without cgroups (rlimits and
	// the timeout remain; memory, process and CPU caps do not). It is
	// logged as a warning. Default false: no cgroups is a startup error.
	AllowNoCgroups bool
	// Runtimes is the language table; default DefaultRuntimes().
	Runtimes []Runtime
	// MemoryMB caps a sandbox's memory (default 512); requests may ask for
	// less, never more.
	MemoryMB int
	// MaxProcesses caps a sandbox's processes and threads (default 256).
	MaxProcesses int
	// CPUCores caps a sandbox's CPU bandwidth (default 1).
	CPUCores float64
	// ExecTimeout is the default wall-clock limit of one execution
	// (default 30s); MaxExecTimeout the largest allowed (default 10m).
	ExecTimeout    time.Duration
	MaxExecTimeout time.Duration
	// MaxOutputBytes caps captured stdout and stderr, each (default 1 MiB).
	MaxOutputBytes int64
	// MaxFileBytes is RLIMIT_FSIZE, the largest file a sandbox can write
	// (default 64 MiB).
	MaxFileBytes uint64
	// MaxOpenFiles is RLIMIT_NOFILE (default 1024).
	MaxOpenFiles uint64
	// TmpSizeMB caps the tmpfs at /tmp (default 64).
	TmpSizeMB int
	// WorkspaceSizeMB caps a workspace (default 256) where the server may
	// mount: each workspace is then its own tmpfs.
	WorkspaceSizeMB int
	// AllowNetwork lets sandboxes that ask for it share the host network.
	// Default false: every sandbox has only its own loopback.
	AllowNetwork bool
	// HostUID and HostGID are the host ids that sandboxes run as when the
	// server runs as root (default 65534, nobody). Ignored otherwise: the
	// sandbox then maps to the server's own uid.
	HostUID, HostGID int
	// SystemDirs are bound read-only at the same path; default: /usr,
	// /bin, /lib, /lib32, /lib64, /libx32, /sbin (those present), plus
	// the few files of /etc that programs need.
	SystemDirs []string
	// DisableSeccomp turns off the system-call filter (see deniedSyscalls).
	// Default false: every sandbox runs under it.
	DisableSeccomp bool
	// InsecureNoNamespaces runs processes without bwrap: no namespaces,
	// no filesystem isolation. For development machines only; logged
	// loudly at start. Default false.
	InsecureNoNamespaces bool
	// Logger receives the provider's logs; default slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.BaseDir == "" {
		c.BaseDir = filepath.Join(os.TempDir(), "computemw-local")
	}
	if c.CgroupParent == "" {
		c.CgroupParent = "computemw"
	}
	if c.Runtimes == nil {
		c.Runtimes = DefaultRuntimes()
	}
	if c.MemoryMB <= 0 {
		c.MemoryMB = 512
	}
	if c.MaxProcesses <= 0 {
		c.MaxProcesses = 256
	}
	if c.CPUCores <= 0 {
		c.CPUCores = 1
	}
	if c.ExecTimeout <= 0 {
		c.ExecTimeout = 30 * time.Second
	}
	if c.MaxExecTimeout <= 0 {
		c.MaxExecTimeout = 10 * time.Minute
	}
	if c.MaxOutputBytes <= 0 {
		c.MaxOutputBytes = 1 << 20
	}
	if c.MaxFileBytes == 0 {
		c.MaxFileBytes = 64 << 20
	}
	if c.MaxOpenFiles == 0 {
		c.MaxOpenFiles = 1024
	}
	if c.TmpSizeMB <= 0 {
		c.TmpSizeMB = 64
	}
	if c.WorkspaceSizeMB <= 0 {
		c.WorkspaceSizeMB = 256
	}
	if c.HostUID == 0 {
		c.HostUID = 65534
	}
	if c.HostGID == 0 {
		c.HostGID = 65534
	}
	if c.SystemDirs == nil {
		c.SystemDirs = []string{"/usr", "/bin", "/lib", "/lib32", "/lib64", "/libx32", "/sbin"}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// etcFiles are the host files of /etc bound read-only when present.
var etcFiles = []string{
	"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives",
	"/etc/ssl", "/etc/ca-certificates", "/etc/localtime", "/etc/nsswitch.conf",
	"/etc/mime.types", "/etc/protocols", "/etc/services",
}

// ErrBwrapMissing is returned by New when bubblewrap is not installed.
var ErrBwrapMissing = errors.New("local: bubblewrap (bwrap) is not installed: install the 'bubblewrap' package " +
	"(apt-get install bubblewrap / dnf install bubblewrap / apk add bubblewrap), " +
	"or set Config.InsecureNoNamespaces for development without isolation")

// Provider is the local provider. It is safe for concurrent use.
type Provider struct {
	cfg      Config
	log      *slog.Logger
	bwrap    string
	rt       *runtimeTable
	cg       cgroupDriver // nil without cgroups
	instance string       // this provider's directory and cgroup name
	dir      string       // BaseDir/instance
	etcDir   string       // generated passwd, group, hosts
	lock     *os.File     // flock held for the provider's lifetime
	rootUser bool
	tmpfsWS  bool     // workspaces are size-capped tmpfs mounts
	seccomp  []byte   // compiled system-call filter, or nil
	binds    []string // bwrap arguments for the system directories

	mu        sync.Mutex
	sandboxes map[string]*sandbox
	closed    bool
}

// New starts a local provider: it checks bwrap and cgroups, reclaims
// workspaces and cgroups orphaned by crashed servers, and resolves the
// runtime table against the host.
func New(cfg Config) (*Provider, error) {
	cfg.setDefaults()
	p := &Provider{cfg: cfg, log: cfg.Logger, rootUser: os.Geteuid() == 0, sandboxes: map[string]*sandbox{}}

	if cfg.InsecureNoNamespaces {
		p.log.Warn("computemw/local: INSECURE DEVELOPMENT MODE: sandboxes run WITHOUT namespaces or filesystem isolation; never expose this server to untrusted code")
	} else {
		path := cfg.BwrapPath
		if path == "" {
			path = "bwrap"
		}
		bw, err := exec.LookPath(path)
		if err != nil {
			return nil, ErrBwrapMissing
		}
		p.bwrap = bw
	}

	cg, err := newCgroupDriver()
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

	if err := os.MkdirAll(cfg.BaseDir, 0o711); err != nil {
		return nil, fmt.Errorf("local: base dir: %w", err)
	}
	if err := os.Chmod(cfg.BaseDir, 0o711); err != nil {
		return nil, fmt.Errorf("local: base dir: %w", err)
	}
	if p.rootUser && !cfg.InsecureNoNamespaces {
		if err := checkSearchable(cfg.BaseDir, cfg.HostUID, cfg.HostGID); err != nil {
			return nil, err
		}
	}
	p.reclaimOrphans()

	p.instance = newID("i")
	p.dir = filepath.Join(cfg.BaseDir, p.instance)
	if err := os.Mkdir(p.dir, 0o711); err != nil {
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
		if !cfg.InsecureNoNamespaces {
			p.log.Warn("computemw/local: workspaces are plain directories with no size cap (only the file-size rlimit bounds a file); run as root to give each its own tmpfs", "reason", err)
		}
	} else {
		p.tmpfsWS = true
	}
	p.binds = p.systemBinds()
	if !cfg.DisableSeccomp && !cfg.InsecureNoNamespaces {
		if p.seccomp, err = seccompProgram(); err != nil {
			p.cleanupInstance()
			return nil, err
		}
	}
	p.rt, err = newRuntimeTable(cfg.Runtimes, p.visible)
	if err != nil {
		p.cleanupInstance()
		return nil, err
	}
	for name, why := range p.rt.missing {
		p.log.Debug("computemw/local: runtime unavailable", "language", name, "reason", why)
	}
	return p, nil
}

// Name implements computemw.Provider.
func (p *Provider) Name() string { return Name }

// Languages implements computemw.LanguageLister: the names and aliases of
// every runtime present on this host.
func (p *Provider) Languages() []string { return p.rt.names() }

// CgroupVersion is 1 or 2, or 0 when the provider runs without cgroups.
func (p *Provider) CgroupVersion() int {
	if p.cg == nil {
		return 0
	}
	return p.cg.version()
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
	left := make([]*sandbox, 0, len(p.sandboxes))
	for _, sb := range p.sandboxes {
		left = append(left, sb)
	}
	p.mu.Unlock()
	var errs []error
	for _, sb := range left {
		errs = append(errs, sb.Destroy(ctx))
	}
	errs = append(errs, p.cleanupInstance())
	return errors.Join(errs...)
}

// cgroupRel is the cgroup path of a sandbox (or of the instance for "").
func (p *Provider) cgroupRel(id string) string {
	return filepath.Join("/", p.cfg.CgroupParent, p.instance, id)
}

func (p *Provider) cleanupInstance() error {
	var errs []error
	if p.cg != nil {
		for _, dir := range p.cg.paths(p.cgroupRel("")) {
			if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	unmountUnder(p.dir)
	if err := removeAll(p.dir); err != nil {
		errs = append(errs, err)
	}
	if p.lock != nil {
		_ = os.Remove(p.lock.Name())
		_ = p.lock.Close()
	}
	return errors.Join(errs...)
}

// visible reports whether a host path is inside a directory bound into
// every sandbox.
func (p *Provider) visible(path string) bool {
	if p.cfg.InsecureNoNamespaces {
		return true
	}
	for _, d := range p.cfg.SystemDirs {
		if path == d || strings.HasPrefix(path, d+"/") {
			return true
		}
	}
	return false
}

func (p *Provider) writeEtc() error {
	p.etcDir = filepath.Join(p.dir, "etc")
	if err := os.Mkdir(p.etcDir, 0o755); err != nil {
		return fmt.Errorf("local: %w", err)
	}
	files := map[string]string{
		"passwd":   fmt.Sprintf("root:x:0:0:root:/root:/bin/sh\nsandbox:x:%d:%d:sandbox:/workspace:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n", sandboxUID, sandboxGID),
		"group":    fmt.Sprintf("root:x:0:\nsandbox:x:%d:\nnogroup:x:65534:\n", sandboxGID),
		"hosts":    "127.0.0.1 localhost sandbox\n::1 localhost ip6-localhost ip6-loopback\n",
		"hostname": "sandbox\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(p.etcDir, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("local: %w", err)
		}
	}
	return nil
}

// systemBinds returns the bwrap arguments that expose the host's system
// directories read-only: directories are bound, merged-/usr symlinks are
// recreated as symlinks.
func (p *Provider) systemBinds() []string {
	var args []string
	for _, d := range p.cfg.SystemDirs {
		fi, err := os.Lstat(d)
		if err != nil {
			continue
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			if target, err := os.Readlink(d); err == nil {
				args = append(args, "--symlink", target, d)
			}
			continue
		}
		args = append(args, "--ro-bind", d, d)
	}
	for _, f := range etcFiles {
		if _, err := os.Stat(f); err == nil {
			args = append(args, "--ro-bind", f, f)
		}
	}
	for _, f := range []string{"passwd", "group", "hosts", "hostname"} {
		args = append(args, "--ro-bind", filepath.Join(p.etcDir, f), "/etc/"+f)
	}
	return args
}

// probeCgroup checks that a sandbox cgroup can be created and removed.
func probeCgroup(d cgroupDriver, parent string) error {
	rel := filepath.Join("/", parent, newID("probe"))
	g, err := d.create(rel, limits{memoryBytes: 64 << 20, pids: 16})
	if err != nil {
		return err
	}
	return g.remove()
}

func newID(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// checkSearchable verifies that uid:gid (with no supplementary groups, as
// sandboxes run) can search every directory from / down to dir. bwrap runs
// as that uid and binds workspaces below dir: a directory it cannot search
// would make every execution fail inside bwrap, after start.
func checkSearchable(dir string, uid, gid int) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("local: base dir: %w", err)
	}
	for d := abs; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("local: base dir: %w", err)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			bit := os.FileMode(0o001)
			if int(st.Uid) == uid {
				bit = 0o100
			} else if int(st.Gid) == gid {
				bit = 0o010
			}
			if fi.Mode().Perm()&bit == 0 {
				return fmt.Errorf("local: base dir %s: the sandboxes' uid %d cannot search %s (mode %s); make it searchable (chmod o+x) or choose another BaseDir", dir, uid, d, fi.Mode().Perm())
			}
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// lockInstance takes an exclusive flock that marks the instance as alive.
func lockInstance(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("local: instance lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("local: instance lock: %w", err)
	}
	return f, nil
}

// reclaimOrphans removes the workspaces and cgroups of instances whose
// server died without cleaning up: their lock file is no longer held.
func (p *Provider) reclaimOrphans() {
	locks, _ := filepath.Glob(filepath.Join(p.cfg.BaseDir, "*.lock"))
	for _, lockPath := range locks {
		inst := strings.TrimSuffix(filepath.Base(lockPath), ".lock")
		f, err := os.OpenFile(lockPath, os.O_RDWR, 0)
		if err != nil {
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
			f.Close() // alive
			continue
		}
		p.reclaimInstance(inst)
		_ = os.Remove(lockPath)
		f.Close()
	}
}

func (p *Provider) reclaimInstance(inst string) {
	n := 0
	if p.cg != nil {
		base := filepath.Join("/", p.cfg.CgroupParent, inst)
		for _, dir := range p.cg.paths(base) {
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if !e.IsDir() {
					continue
				}
				rel := filepath.Join(base, e.Name())
				if g, err := p.cg.create(rel, limits{}); err == nil {
					if g.remove() == nil {
						n++
					}
				}
			}
			_ = os.Remove(dir)
		}
	}
	dir := filepath.Join(p.cfg.BaseDir, inst)
	if _, err := os.Stat(dir); err == nil {
		unmountUnder(dir)
		_ = removeAll(dir)
	}
	p.log.Info("computemw/local: reclaimed an orphaned instance", "instance", inst, "cgroups", n)
}

// removeAll removes a tree even where a sandbox left directories without
// write or search permission.
func removeAll(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if d != nil && d.IsDir() {
			_ = os.Chmod(path, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

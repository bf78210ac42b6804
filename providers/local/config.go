package local

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// Name is the provider's registry name.
const Name = "local"

// Config configures the local provider. Zero fields take the defaults shown.
type Config struct {
	// BwrapPath is the bubblewrap binary; default: "bwrap" from PATH.
	BwrapPath string
	// BaseDir holds workspaces. Default: /var/lib/computemw when the
	// server runs as root, else computemw-local in the user's cache
	// directory (os.UserCacheDir). New creates it if missing, and refuses
	// one that is a symbolic link, that another uid owns, or that group or
	// others may write to (see basedir.go). Several providers (and
	// processes) of the same uid may share it.
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
	// On cgroup v1, bwrap's monitor of the sandbox's first process, born
	// in the sandbox's cgroup (internal/cgroups: Joiner), counts as one
	// of them.
	MaxProcesses int
	// CPUCores caps a sandbox's CPU bandwidth (default 1).
	CPUCores float64
	// ExecTimeout is the default wall-clock limit of one execution
	// (default 30s); MaxExecTimeout the largest allowed (default 10m). A
	// sandbox created with Resources.MaxExecutionTime lowers both for its
	// own executions.
	ExecTimeout    time.Duration
	MaxExecTimeout time.Duration
	// MaxOutputBytes caps captured stdout and stderr, each (default 1 MiB).
	MaxOutputBytes int64
	// MaxFileBytes is RLIMIT_FSIZE, the largest file a sandbox can write
	// (default 64 MiB), and the largest file WriteFile accepts.
	MaxFileBytes uint64
	// MaxReadBytes is the largest file ReadFile returns (default 8 MiB);
	// a larger one is a PAYLOAD_TOO_LARGE error, found before a byte is
	// read. The sandbox's OpenFile streams files of any size.
	MaxReadBytes int64
	// MaxOpenFiles is RLIMIT_NOFILE (default 1024).
	MaxOpenFiles uint64
	// MaxContexts caps the code contexts a sandbox holds at once
	// (default 4): each is an interpreter that stays running.
	MaxContexts int
	// TmpSizeMB caps the tmpfs at /tmp (default 64).
	TmpSizeMB int
	// WorkspaceSizeMB caps a workspace (default 256) where the server may
	// mount: each workspace is then its own tmpfs.
	WorkspaceSizeMB int
	// AllowNetwork lets sandboxes that ask for it share the host network.
	// Default false: every sandbox has only its own loopback.
	AllowNetwork bool
	// UIDRange is the range of host uids that sandboxes run as when the
	// server runs as root: each live sandbox has one of its own (its gid
	// is the same number), so no sandbox can use up the per-user kernel
	// limits of the others (inotify instances and watches, epoll watches,
	// pending signals, message queues, user namespaces). Default: 65536
	// uids from 1900000000, clear of the ranges useradd gives users in
	// /etc/subuid (from 100000) and of systemd's container range; New
	// refuses a range that holds a user of /etc/passwd or overlaps
	// /etc/subuid or /etc/subgid. Providers that share a BaseDir share the
	// range; providers on different BaseDirs need disjoint ranges. Ignored
	// when the server is not root (sandboxes then map to its own uid) or
	// when HostUID is set.
	UIDRange UIDRange
	// HostUID and HostGID, when set, make every sandbox of a root server
	// run as that one host uid and gid instead of one of UIDRange (the
	// per-user kernel limits are then shared by all sandboxes).
	HostUID, HostGID int
	// SystemDirs are bound read-only at the same path; default: /usr,
	// /bin, /lib, /lib32, /lib64, /libx32, /sbin (those present), plus
	// the few files of /etc that programs need.
	SystemDirs []string
	// DisableSeccomp turns off the system-call filter (internal/seccomp
	// lists the calls it denies).
	// Default false: every sandbox runs under it.
	DisableSeccomp bool
	// InsecureNoNamespaces runs processes without bwrap: no namespaces,
	// no filesystem isolation, no system-call filter. For development
	// machines only; logged loudly at start. Default false.
	InsecureNoNamespaces bool
	// Logger receives the provider's logs; default slog.Default().
	Logger *slog.Logger

	// CompileTimeout and CompileMemoryMB limit the compile step of a
	// compiled language (default 60s and 1024 MB), in a cgroup apart
	// from the run step's, and within the execution's limits: a compile
	// has at most the sandbox's memory cap (MemoryMB, or the smaller
	// Resources.MemoryMB it was created with), and counts within the
	// execution's time limit, which the run step gets what is left of —
	// unless the execution gives the compile a limit of its own
	// (ExecOptions.CompileTimeout, at most CompileTimeout), when the run
	// step has the whole of its time limit.
	CompileTimeout  time.Duration
	CompileMemoryMB int
	// BuildCacheDir holds compiled artefacts, keyed by language, toolchain,
	// flags, template and source, and the warmed toolchain caches
	// (default BaseDir/buildcache). Only the server reads and writes it;
	// no sandbox has it mounted. BuildCacheMB bounds it (default 1024):
	// least recently used artefacts go first.
	BuildCacheDir string
	BuildCacheMB  int
	// Templates name root filesystem directories that sandboxes can run
	// on instead of the host's system directories, chosen with
	// CreateOptions.Template; each is bound read-only and shared.
	// DefaultTemplate, when set, is used by sandboxes that name none.
	Templates       map[string]string
	DefaultTemplate string
	// WarmPool keeps sandboxes ready for Create (pool.go).
	WarmPool PoolConfig
	// StartGate orders the starts of executions while the CPUs are busy
	// (internal/startgate).
	StartGate StartGateConfig
}

// StartGateConfig configures the start gate: while tasks wait for a CPU,
// executions (Exec and RunCode, not terminals or background processes)
// start Slots at a time, the callers (ExecOptions.Caller) taking turns,
// each keeping its slot until it ends or for Hold; while the CPUs have
// room, they start at once. The
// gate needs the kernel's CPU pressure (/proc/pressure/cpu, Linux 4.20
// with PSI); without it there is none.
type StartGateConfig struct {
	// Slots is how many executions start at once on busy CPUs (default:
	// the number of CPUs); -1 turns the gate off.
	Slots int
	// Hold is how long an execution keeps its slot before it counts as
	// long-running and shares the CPUs with the rest (default 100ms). A
	// waiting execution waits at most about its place in line, divided
	// by Slots, times Hold.
	Hold time.Duration
}

func (c *StartGateConfig) setDefaults() {
	if c.Slots == 0 {
		c.Slots = runtime.NumCPU()
	}
	if c.Hold <= 0 {
		c.Hold = 100 * time.Millisecond
	}
}

// PoolConfig configures the warm pool: sandboxes made in the background
// with the provider's defaults, their init already waiting in their
// namespaces, each handed to one Create at a time (without network, with
// the default limits; any environment and time limit) and, once its owner
// destroys it, reset and handed out again (Recycle). The pool makes
// sandboxes in the quiet moments between executions (Quiet). An empty
// pool only means the sandbox is made on the spot.
type PoolConfig struct {
	// Size is how many ready sandboxes the pool keeps when demand is low
	// (default 4); -1 turns the pool off.
	Size int
	// MaxSize is the most it grows to (default 128, so that a burst of
	// 100 requests after a busy spell finds a ready sandbox each): its
	// target doubles each time a create finds it empty.
	MaxSize int
	// MaxIdleMB caps the memory the ready sandboxes hold together, as
	// their cgroups counted it when each became ready (default 256).
	MaxIdleMB int
	// ShrinkAfter is how long without a create finding the pool empty
	// before its target shrinks by one (default 30s).
	ShrinkAfter time.Duration
	// Workers is how many sandboxes are made at once (default 2).
	Workers int
	// Quiet is how long no execution must have started or ended before
	// the pool makes a sandbox (default 10ms); a negative value makes
	// them at once, while executions run. Making one takes the kernel's
	// mount and namespace work that every execution's start and end also
	// takes: made beside a running execution, it slowed that execution by
	// more than it saved (make bench, section (a)).
	Quiet time.Duration
	// Recycle governs the reuse of a sandbox the pool handed out, once
	// its owner is done with it (recycle.go).
	Recycle RecycleConfig
}

// RecycleConfig configures recycling: when a sandbox the pool handed out
// is destroyed, it is reset and returned to the pool instead: every
// process in it killed, every writable place emptied, its System V IPC
// objects removed, its limits applied again and its counters started
// afresh, each checked; a reset that fails, or finds what it cannot
// account for, destroys the sandbox. Only sandboxes made with the
// provider's defaults (no network, default limits and root filesystem)
// are recycled, like those the pool makes.
type RecycleConfig struct {
	// Off turns recycling off: every sandbox is destroyed when its owner
	// is done with it.
	Off bool
	// MaxUses is how many creates one sandbox serves before it is
	// destroyed (default 100).
	MaxUses int
	// MaxAge is how long after it was made a sandbox is destroyed rather
	// than reset (default 10m).
	MaxAge time.Duration
	// SameOwner keeps a sandbox with one owner (CreateOptions.Owner): a
	// sandbox reset after one owner's use is handed only to a create of
	// the same owner; a create without an owner never gets one, and its
	// own sandbox is destroyed, not recycled.
	SameOwner bool
}

func (c *RecycleConfig) setDefaults() {
	if c.MaxUses <= 0 {
		c.MaxUses = 100
	}
	if c.MaxAge <= 0 {
		c.MaxAge = 10 * time.Minute
	}
}

func (c *PoolConfig) setDefaults() {
	c.Recycle.setDefaults()
	if c.Size == 0 {
		c.Size = 4
	}
	if c.MaxSize <= 0 {
		c.MaxSize = 128
	}
	c.MaxSize = max(c.MaxSize, c.Size)
	if c.MaxIdleMB <= 0 {
		c.MaxIdleMB = 256
	}
	if c.ShrinkAfter <= 0 {
		c.ShrinkAfter = 30 * time.Second
	}
	if c.Workers <= 0 {
		c.Workers = 2
	}
	if c.Quiet == 0 {
		c.Quiet = 10 * time.Millisecond
	}
}

func (c *Config) setDefaults() error {
	c.WarmPool.setDefaults()
	c.StartGate.setDefaults()
	if c.BaseDir == "" {
		dir, err := defaultBaseDir()
		if err != nil {
			return err
		}
		c.BaseDir = dir
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
	if c.MaxContexts <= 0 {
		c.MaxContexts = 4
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
	if c.MaxReadBytes <= 0 {
		c.MaxReadBytes = 8 << 20
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
	if c.HostUID != 0 && c.HostGID == 0 {
		c.HostGID = c.HostUID
	}
	if c.UIDRange.Count <= 0 {
		c.UIDRange = UIDRange{First: 1_900_000_000, Count: 65536}
	}
	if c.SystemDirs == nil {
		c.SystemDirs = []string{"/usr", "/bin", "/lib", "/lib32", "/lib64", "/libx32", "/sbin"}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.setCompileDefaults()
	return nil
}

// UIDRange is a range of host uids: First, First+1, ... First+Count-1.
type UIDRange struct {
	First, Count int
}

// rootBaseDir is the default BaseDir of a server running as root: outside
// the shared temporary directory, where no other user can create it first.
const rootBaseDir = "/var/lib/computemw"

// defaultBaseDir is BaseDir's default: a directory no other user can
// create or write before this server does.
func defaultBaseDir() (string, error) {
	if os.Geteuid() == 0 {
		return rootBaseDir, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", errors.New("local: no default BaseDir (the user has no cache directory: " + err.Error() + "); set Config.BaseDir")
	}
	return filepath.Join(cache, "computemw-local"), nil
}

// ErrBwrapMissing is returned by New when bubblewrap is not installed.
var ErrBwrapMissing = errors.New("local: bubblewrap (bwrap) is not installed: install the 'bubblewrap' package " +
	"(apt-get install bubblewrap / dnf install bubblewrap / apk add bubblewrap), " +
	"or set Config.InsecureNoNamespaces for development without isolation")

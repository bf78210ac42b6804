//go:build linux

package local

import (
	"fmt"
	"sync"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local/internal/startgate"
)

// Test-only accessors for the external test package.

// SandboxCgroupDirs returns the host directories of a sandbox's cgroup, one
// per hierarchy (nil without cgroups).
func SandboxCgroupDirs(sb computemw.Sandbox) []string {
	s := sb.(*sandbox)
	if s.p.cg == nil {
		return nil
	}
	return s.p.cg.Paths(s.p.cgroupRel(s.cgID))
}

// SandboxUses is how many creates a sandbox served before this one: 0
// for a sandbox made for it, 1 and more for a recycled one.
func SandboxUses(sb computemw.Sandbox) int { return sb.(*sandbox).reuse.uses }

// SandboxWorkspace returns the host path of a sandbox's workspace
// directory (where a tmpfs workspace is mounted in a namespace of its
// own, the server's namespace sees it empty).
func SandboxWorkspace(sb computemw.Sandbox) string { return sb.(*sandbox).ws }

// SandboxWorkspaceFiles returns a path through which the server reaches
// the files of a sandbox's workspace.
func SandboxWorkspaceFiles(sb computemw.Sandbox) string {
	return fmt.Sprintf("/proc/self/fd/%d", sb.(*sandbox).wsFile.Fd())
}

// CgroupParentDirs returns the host directories of the provider's
// CgroupParent, one per hierarchy (nil without cgroups).
func CgroupParentDirs(p *Provider) []string {
	if p.cg == nil {
		return nil
	}
	return p.cg.Paths("/" + p.cfg.CgroupParent)
}

// InstanceName returns the provider's instance name (its directory under
// BaseDir and its cgroup under CgroupParent).
func InstanceName(p *Provider) string { return p.instance }

// TmpfsWorkspaces reports whether the provider's workspaces are tmpfs
// mounts of their own.
func TmpfsWorkspaces(p *Provider) bool { return p.tmpfsWS }

// SetSpawnHook makes the provider call f at each stage of a sandbox's
// start-up: "started" (bwrap runs, the sandbox waits to be confined) and
// "confined" (its init is in its cgroup, not yet released); and "direct"
// when the init started a command's program without a shell.
func SetSpawnHook(p *Provider, f func(stage string)) {
	if f == nil {
		p.hook.Store(nil)
		return
	}
	p.hook.Store(&f)
}

// WalkOps returns the number of system calls the sandbox's file API has
// made walking paths.
func WalkOps(sb computemw.Sandbox) int64 { return sb.(*sandbox).walkOps.Load() }

// SandboxInitPID returns the host PID of a sandbox's init.
func SandboxInitPID(sb computemw.Sandbox) int {
	s := sb.(*sandbox)
	s.initMu.Lock()
	defer s.initMu.Unlock()
	if s.init == nil {
		return 0
	}
	return s.init.pid
}

// LiveSandboxes returns the number of sandboxes the provider holds.
func LiveSandboxes(p *Provider) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sandboxes)
}

// InstanceDir returns the host directory of the provider's instance.
func InstanceDir(p *Provider) string { return p.dir }

// PoolSettled reports whether the warm pool's workers have nothing to do:
// none is making a sandbox, and the pool is at its target or its idle
// memory cap.
func PoolSettled(p *Provider) bool {
	pl := p.pool
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return pl.making == 0 && (len(pl.ready) >= pl.target || pl.idleBytesLocked() >= int64(pl.cfg.MaxIdleMB)<<20)
}

// PooledHeld returns the pool's ready sandboxes' IDs, the host PIDs of the
// first processes they hold (0 for one without), and whether each still
// waits.
func PooledHeld(p *Provider) (ids []string, pids []int, alive []bool) {
	p.pool.mu.Lock()
	ready := append([]*sandbox(nil), p.pool.ready...)
	p.pool.mu.Unlock()
	for _, s := range ready {
		pid := 0
		s.mu.Lock()
		if s.held != nil {
			pid = s.held.pid
		}
		s.mu.Unlock()
		ids = append(ids, s.id)
		pids = append(pids, pid)
		alive = append(alive, s.heldAlive())
	}
	return ids, pids, alive
}

// LimitsBeforeRun reports whether the provider sets its sandboxes' rlimits
// before their first process runs, rather than through a shell.
func LimitsBeforeRun(p *Provider) bool { return p.iso.limitsBeforeRun() }

// ProfileArgv returns the command line the profile of a sandbox's process
// running argv starts.
func ProfileArgv(sb computemw.Sandbox, argv []string) ([]string, error) {
	s := sb.(*sandbox)
	pr, err := s.buildProfile(argv, s.inside("."), nil)
	if err != nil {
		return nil, err
	}
	return pr.argv, nil
}

// Symlink makes name in the sandbox's workspace a symbolic link to target,
// as a program in it would, without an execution.
func Symlink(sb computemw.Sandbox, target, name string) error {
	return sb.(*sandbox).root.Symlink(target, name)
}

// SetEtcFiles makes providers created from now on bind paths as the
// host's /etc entries, until the returned function restores the list.
// Tests that call it must not run in parallel with others.
func SetEtcFiles(paths []string) (restore func()) {
	old := etcFiles
	etcFiles = paths
	return func() { etcFiles = old }
}

// EtcStaged reports whether the provider binds sandboxes' /etc in one
// mount.
func EtcStaged(p *Provider) bool { return p.etcStage != nil }

// GateOnBusyCPUs gives p a start gate of slots slots, each held until its
// execution ends, on CPUs that always look busy: executions beyond the
// slots wait their turn however idle the machine is. Call it before p
// runs anything.
func GateOnBusyCPUs(p *Provider, slots int) {
	var mu sync.Mutex
	var stalled time.Duration
	p.gate = startgate.NewWatching(slots, time.Hour, func() time.Duration {
		mu.Lock()
		defer mu.Unlock()
		stalled += time.Hour
		return stalled
	})
}

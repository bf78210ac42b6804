//go:build linux

package local

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local/internal/cgroups"
	"github.com/computemw/kit/providers/local/internal/initproto"
)

// reuseState is what recycling keeps of a sandbox (RecycleConfig).
type reuseState struct {
	// recyclable: the pool made it to be recycled; handedOut: a create
	// took it (only a sandbox someone used is reset, the pool's own
	// destroys are not).
	recyclable, handedOut bool
	born                  time.Time // when its namespaces were made
	uses                  int       // the creates it served before this one
	procs                 int       // the processes of its cgroup once its init served
	owner                 string    // CreateOptions.Owner of its last create; "" when fresh
	cgBase                cgroups.Counters
}

// resetTimeout bounds a whole reset, the init's part included
// (internal/sandboxinit bounds its own to 2s).
const resetTimeout = 5 * time.Second

// recycle resets a retired sandbox and returns its namespaces, workspace,
// cgroup and uid to the pool under a new sandbox, with a new ID; it
// reports false, having changed nothing the teardown needs, when the
// sandbox is not to be recycled or its reset failed or was unsure.
//
// The reset, in order: the init kills every other process until none is
// left, again until every execution of the retired sandbox has returned
// (one that was starting when it retired may start its program after
// the first kill); then, with nothing left that could start a process,
// once more for good: processes, the writable directories (workspace,
// /tmp, /var/tmp, /dev/shm), System V IPC objects, sockets, and the
// init's own rlimits, priority and affinity (internal/sandboxinit,
// reset). The provider then checks the workspace empty through its own
// descriptor and the cgroup holding only the processes it held when the
// sandbox was made, writes the cgroup's limits again and takes its
// counters as the new sandbox's zero.
func (s *sandbox) recycle(ctx context.Context) bool {
	pl := s.p.pool
	ip := s.liveInit.Load()
	if pl == nil || ip == nil || !s.reuse.recyclable || !s.reuse.handedOut {
		return false
	}
	rc := pl.cfg.Recycle
	if rc.Off || s.reuse.uses+1 >= rc.MaxUses || time.Since(s.reuse.born) >= rc.MaxAge ||
		(rc.SameOwner && s.reuse.owner == "") {
		return false
	}
	if !pl.beginReset() {
		return false
	}
	next, err := s.reset(ctx, ip)
	if err != nil {
		pl.endReset(nil)
		pl.resetFailed.Add(1)
		s.p.log.Warn("computemw/local: a sandbox's reset failed; it is destroyed", "sandbox", s.id, "error", err)
		return false
	}
	s.p.mu.Lock()
	closed := s.p.closed
	if !closed {
		delete(s.p.sandboxes, s.id)
		s.p.sandboxes[next.id] = next
	}
	s.p.mu.Unlock()
	if closed {
		pl.endReset(nil)
		return false
	}
	if !pl.endReset(next) {
		// The pool closed meanwhile: the new sandbox goes as any ready one.
		_ = next.Destroy(context.WithoutCancel(ctx))
	}
	pl.recycled.Add(1)
	return true
}

// reset runs the reset (recycle) and builds the sandbox that succeeds s.
func (s *sandbox) reset(ctx context.Context, ip *initProc) (*sandbox, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), resetTimeout)
	defer cancel()
	dirs := []string{s.inside("."), "/tmp", "/var/tmp", "/dev/shm"}
	waited := make(chan struct{})
	go func() { s.wg.Wait(); s.fileOps.Wait(); close(waited) }()
	// Executions still running (or starting) are killed until they
	// have all returned; mostly none is left by now, which the waiter
	// says within the first instants.
	running := true
	select {
	case <-waited:
		running = false
	case <-time.After(time.Millisecond):
	}
	for running {
		// Its answer is the final reset's to give: an execution may
		// still be registered.
		if _, err := ip.call(ctx, &initMsg{Op: initproto.OpKillAll}); err != nil {
			return nil, fmt.Errorf("kill: %w", err)
		}
		select {
		case <-waited:
			running = false
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return nil, fmt.Errorf("executions still running: %w", ctx.Err())
		}
	}
	// Nothing can start a process in it now: the final reset.
	if err := ip.reset(ctx, dirs); err != nil {
		return nil, err
	}
	if err := s.checkWorkspaceEmpty(); err != nil {
		return nil, err
	}
	var base cgroups.Counters
	if s.cg != nil {
		if n, err := s.cg.Count(); err != nil || n != s.reuse.procs {
			return nil, fmt.Errorf("its cgroup holds %d processes, %d when it was made (%v)", n, s.reuse.procs, err)
		}
		if err := s.cg.SetLimits(s.p.limitsFor(computemw.Resources{})); err != nil {
			return nil, fmt.Errorf("cgroup limits: %w", err)
		}
		if err := s.cg.SetBulk(false); err != nil {
			return nil, fmt.Errorf("cgroup CPU weight: %w", err)
		}
		s.cg.ResetPeak()
		base = s.cg.Read()
	}
	next := s.p.blankSandbox(s.tmpl)
	next.ws, next.wsFile, next.mntns, next.root, next.cg, next.cgID = s.ws, s.wsFile, s.mntns, s.root, s.cg, s.cgID
	next.uid, next.gid, next.lease, next.chown = s.uid, s.gid, s.lease, s.chown
	next.init = ip
	next.liveInit.Store(ip)
	if s.cg != nil {
		next.idleMem = s.cg.Memory()
	}
	next.reuse = reuseState{
		recyclable: true, born: s.reuse.born, uses: s.reuse.uses + 1,
		procs: s.reuse.procs, owner: s.reuse.owner, cgBase: base,
	}
	return next, nil
}

// reset asks the init for a reset of the sandbox (its part of recycle),
// emptying dirs.
func (ip *initProc) reset(ctx context.Context, dirs []string) error {
	r, err := ip.call(ctx, &initMsg{Op: initproto.OpReset, Dirs: dirs})
	if err != nil {
		return err
	}
	if r.Error != "" {
		return &resetRefused{r.Error}
	}
	return nil
}

// resetRefused: the init found what it could not reset.
type resetRefused struct{ msg string }

func (e *resetRefused) Error() string { return "the init's reset: " + e.msg }

// checkWorkspaceEmpty checks, through the provider's descriptor, that
// the workspace holds nothing.
func (s *sandbox) checkWorkspaceEmpty() error {
	d, err := s.root.Open(".")
	if err != nil {
		return fmt.Errorf("workspace: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(1)
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return fmt.Errorf("workspace: %w", err)
	}
	return fmt.Errorf("workspace: %q left", names[0])
}

// startRecyclable starts the init of a sandbox the pool makes to be
// recycled, and counts the processes its cgroup holds then.
func (s *sandbox) startRecyclable(ctx context.Context) error {
	s.initMu.Lock()
	err := s.startInit(ctx)
	s.initMu.Unlock()
	if err != nil {
		return err
	}
	if s.cg != nil {
		n, err := s.cg.Count()
		if err != nil {
			return fmt.Errorf("local: cgroup: %w", err)
		}
		s.reuse.procs = n
	}
	s.reuse.recyclable = true
	return nil
}

//go:build linux

package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/computemw/kit/internal/textstream"
	"github.com/computemw/kit/providers/local/internal/cgroups"
)

// spawn starts a prepared process and completes its start-up handshake,
// and returns the host PID of the process it confined:
// the sandbox's first process enters its cgroup, and has its rlimits
// where the launch carries them, before it runs one instruction of the
// program. Every wait honours ctx: when it ends, the
// process tree is killed and reaped, and spawn returns ctx's error, so a
// client that leaves, or a timeout, always frees the execution.
func (s *sandbox) spawn(ctx context.Context, l *launch, cg cgroups.Group) (int, error) {
	defer l.close()
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	closeInheritedFDs()
	start := l.cmd.Start
	// born: the process was born in cg, started from a thread that joined
	// it (internal/cgroups: Joiner), rather than to be moved there.
	born := false
	j, ok := cg.(cgroups.Joiner)
	if ok = ok && s.p.joinCgroups; !ok {
		j = nil
	}
	if s.p.threads != nil && (l.ns != nil || ok) {
		start = func() (err error) {
			born, err = s.p.threads.start(l.ns, j, l.cmd.Start)
			return err
		}
	}
	if err := start(); err != nil {
		return 0, fmt.Errorf("local: start: %w", err)
	}
	s.started(l.cmd)
	l.closeChild()
	s.p.stage("started")

	pid := l.cmd.Process.Pid
	fail := func(err error) (int, error) {
		killTree(l.cmd)
		_ = l.cmd.Wait()
		// The sandbox's first process dies with bwrap, but the kernel
		// tears it down on its own time: wait (bounded) until it is gone.
		waitGone(pid)
		return 0, err
	}
	if l.info != nil {
		var err error
		if pid, err = readChildPID(ctx, l.info, l.cmd); errors.Is(err, errNoChild) {
			killTree(l.cmd)
			_ = l.cmd.Wait()
			return 0, fmt.Errorf("local: bwrap failed to start the sandbox (exit %d): %s",
				exitCode(l.cmd.ProcessState, nil), stderrOf(l.cmd))
		} else if err != nil {
			return fail(err)
		}
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if cg != nil && !born {
		if err := cg.Add(pid); err != nil {
			return fail(fmt.Errorf("local: cgroup: %w", err))
		}
	}
	if l.limits != nil {
		if err := l.limits.apply(pid, l.uid, l.gid); err != nil {
			return fail(err)
		}
	}
	s.p.stage("confined")
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if l.block != nil {
		// The pipe is empty and bwrap holds its read end: this never
		// waits.
		if _, err := l.block.Write([]byte{'g'}); err != nil {
			return fail(fmt.Errorf("local: release sandbox: %w", err))
		}
	}
	return pid, nil
}

// waitGone waits until no process has the host PID pid, for at most five
// seconds.
func waitGone(pid int) {
	deadline := time.Now().Add(5 * time.Second)
	for backoff := 100 * time.Microsecond; time.Now().Before(deadline); backoff = min(2*backoff, 20*time.Millisecond) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		time.Sleep(backoff)
	}
}

// errNoChild: bwrap exited without reporting a sandbox process.
var errNoChild = errors.New("bwrap reported no sandbox process")

// readChildPID reads the PID of the sandbox's first process from bwrap's
// info pipe. When ctx ends first, it kills bwrap (its death closes the
// pipe) and returns ctx's error.
func readChildPID(ctx context.Context, info *os.File, cmd *exec.Cmd) (int, error) {
	type answer struct {
		pid int
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		var msg struct {
			ChildPID int `json:"child-pid"`
		}
		err := json.NewDecoder(info).Decode(&msg)
		ch <- answer{msg.ChildPID, err}
	}()
	select {
	case a := <-ch:
		if a.err != nil || a.pid <= 0 {
			return 0, errNoChild
		}
		return a.pid, nil
	case <-ctx.Done():
		killTree(cmd)
		<-ch
		return 0, ctx.Err()
	}
}

// stage calls the test hook, if any, at a stage of a process's start-up.
func (p *Provider) stage(name string) {
	if f := p.hook.Load(); f != nil {
		(*f)(name)
	}
}

// waitDelay bounds how long Wait waits for output pipes after bwrap is
// gone. bwrap exits as soon as the sandbox's PID 1 reports the program's
// status, while the kernel may still be tearing the namespaces down (it
// serializes that work: seconds when hundreds of sandboxes end at once),
// so the pipes close late. It is also a second line of defence should a
// process outlive its PID namespace while holding a pipe.
const waitDelay = 10 * time.Second

// procAttr starts bwrap in its own process group (killTree kills it) and
// kills it if the server dies.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killTree kills an execution's whole process tree: the bwrap monitor's
// process group; its death kills the sandbox's PID 1 (--die-with-parent),
// and with it every process in the PID namespace, detached or stopped.
func killTree(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// exitCode is the program's exit status, with 128+signal for a signal.
func exitCode(ps *os.ProcessState, err error) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

func stderrOf(cmd *exec.Cmd) string {
	if b, ok := cmd.Stderr.(*textstream.Capped); ok {
		out, _ := b.Result()
		return out
	}
	return ""
}

//go:build linux

package local

import (
	"context"
	"fmt"
	"syscall"

	"github.com/computemw/kit/computemw"
)

// StartProcess implements computemw.ProcessManager: the init starts the
// command detached, with /dev/null as its streams and a marker its
// descendants inherit, so that it survives the end of executions until it
// exits, is killed, or the sandbox is destroyed.
func (s *sandbox) StartProcess(ctx context.Context, command string, opts computemw.ProcessOptions) (computemw.ProcessInfo, error) {
	cwd, err := s.cwd(opts.Cwd)
	if err != nil {
		return computemw.ProcessInfo{}, err
	}
	argv := []string{"/bin/sh", "-c", command}
	if err := checkArgv(argv); err != nil {
		return computemw.ProcessInfo{}, err
	}
	env, err := s.environ(opts.Env)
	if err != nil {
		return computemw.ProcessInfo{}, err
	}
	ip, err := s.enter(ctx)
	if err != nil {
		return computemw.ProcessInfo{}, err
	}
	defer s.leave()
	id, _, started, err := ip.startProc(ctx, &initMsg{Argv: argv, Env: env, Dir: cwd, Background: true})
	if err != nil {
		return computemw.ProcessInfo{}, fmt.Errorf("local: start process: %w", err)
	}
	// A background program's exit is not reported: nothing waits for it.
	ip.done(id)
	closeFiles(started.files)
	return computemw.ProcessInfo{PID: started.PID, Command: command, Background: true, State: "R"}, nil
}

// Processes implements computemw.ProcessManager.
func (s *sandbox) Processes(ctx context.Context) ([]computemw.ProcessInfo, error) {
	ip, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer s.leave()
	r, err := ip.call(ctx, &initMsg{Op: opProcs})
	if err != nil {
		return nil, fmt.Errorf("local: processes: %w", err)
	}
	out := make([]computemw.ProcessInfo, 0, len(r.Procs))
	for _, p := range r.Procs {
		out = append(out, computemw.ProcessInfo{PID: p.PID, PPID: p.PPID, Command: p.Command, Background: p.Background, State: p.State})
	}
	return out, nil
}

// KillProcess implements computemw.ProcessManager.
func (s *sandbox) KillProcess(ctx context.Context, pid int) error {
	ip, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer s.leave()
	r, err := ip.call(ctx, &initMsg{Op: opKillPID, PID: pid, Signal: int(syscall.SIGKILL)})
	if err != nil {
		return fmt.Errorf("local: kill: %w", err)
	}
	if r.Error != "" {
		return computemw.Errorf(computemw.CodeNotFound, "no process %d in sandbox %s", pid, s.id)
	}
	return nil
}

var _ computemw.ProcessManager = (*sandbox)(nil)

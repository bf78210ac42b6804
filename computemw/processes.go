package computemw

import (
	"context"
)

// ProcessManager is implemented by sandboxes whose processes can outlive
// the execution that started them: background programs (a server, a
// watcher) that a session starts once and later lists or kills. Every
// other process an execution leaves behind is killed when it ends.
type ProcessManager interface {
	// StartProcess starts command (sh -c) detached, its output discarded
	// (redirect it to a file to keep it), and returns at once.
	StartProcess(ctx context.Context, command string, opts ProcessOptions) (ProcessInfo, error)
	// Processes lists the sandbox's processes.
	Processes(ctx context.Context) ([]ProcessInfo, error)
	// KillProcess kills one process of the sandbox (SIGKILL).
	KillProcess(ctx context.Context, pid int) error
}

// ProcessOptions configure a background process.
type ProcessOptions struct {
	// Cwd is the working directory, relative to the workspace.
	Cwd string
	// Env adds environment variables.
	Env map[string]string
}

// ProcessInfo describes a process of a sandbox, with its PID as the
// sandbox sees it.
type ProcessInfo struct {
	PID        int    `json:"pid"`
	PPID       int    `json:"ppid,omitempty"`
	Command    string `json:"command"`
	Background bool   `json:"background"`
	State      string `json:"state,omitempty"`
}

// processManager returns the provider's ProcessManager of g, or a clear
// error when the provider has none.
func (g *governed) processManager() (ProcessManager, error) {
	pm, ok := g.raw.(ProcessManager)
	if !ok {
		return nil, Unsupported(g.raw.Provider(), "background processes")
	}
	return pm, nil
}

// startProcess starts a background process as a governed execution: it is
// authorized, limited by the policies and reported to the hooks (its
// launch counts as one execution; the CPU it uses afterwards shows in the
// sandbox's usage).
func (g *governed) startProcess(ctx context.Context, command string, opts ProcessOptions) (ProcessInfo, error) {
	pm, err := g.processManager()
	if err != nil {
		return ProcessInfo{}, err
	}
	if command == "" {
		return ProcessInfo{}, Errorf(CodeBadRequest, "field \"command\" is required")
	}
	if len(command) > MaxCommandBytes {
		return ProcessInfo{}, Errorf(CodeBadRequest, "command exceeds %d bytes", MaxCommandBytes)
	}
	var info ProcessInfo
	_, err = g.run(ctx, g.action(OpExec, "", 0), ExecOptions{Env: opts.Env, Cwd: opts.Cwd}, func(ctx context.Context, _ ExecOptions) (*Result, error) {
		var err error
		info, err = pm.StartProcess(ctx, command, opts)
		if err != nil {
			return nil, err
		}
		return &Result{}, nil
	})
	return info, err
}

// processes lists the sandbox's processes, authorized like an execution.
func (g *governed) processes(ctx context.Context) ([]ProcessInfo, error) {
	pm, err := g.processManager()
	if err != nil {
		return nil, err
	}
	if ctx, err = g.authorizeOp(ctx, OpExec); err != nil {
		return nil, err
	}
	return pm.Processes(ctx)
}

// killProcess kills one process, authorized like an execution.
func (g *governed) killProcess(ctx context.Context, pid int) error {
	pm, err := g.processManager()
	if err != nil {
		return err
	}
	if ctx, err = g.authorizeOp(ctx, OpExec); err != nil {
		return err
	}
	return pm.KillProcess(ctx, pid)
}

// authorizeOp admits (if needed) and authorizes an operation of op on g
// that runs nothing.
func (g *governed) authorizeOp(ctx context.Context, op Op) (context.Context, error) {
	ctx, err := g.k.ensureAdmitted(ctx, op)
	if err != nil {
		return ctx, err
	}
	return ctx, g.k.authorize(ctx, g.action(op, "", 0))
}

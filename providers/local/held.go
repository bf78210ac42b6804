//go:build linux

package local

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/internal/textstream"
	"github.com/computemw/kit/providers/local/internal/cgroups"
)

// heldShell is the first process of a sandbox the warm pool made: bwrap
// has set up its namespaces, mounts and filter, it runs in the sandbox's
// cgroup with its rlimits, and /bin/sh waits on its standard input for
// the one command line that starts the sandbox's first execution. That
// execution then costs what the program itself costs (its exec), not a
// bwrap process and not the start of an init; a sandbox made for one
// request needs nothing more. Its later executions, terminals and
// background processes go through its init, which starts with the
// second one, as in a sandbox made on the spot.
//
// The command line is one line of shell syntax (no unquoted newline), so
// the shell has parsed all of it before it runs any of it: it enters the
// working directory, sets the environment, moves the program's standard
// streams to 0, 1 and 2 (from fdHeld ..., its input from /dev/null
// without one) and execs the program (or /bin/sh -c with the command) in
// its own place, as a bwrap process of its own would have run it
// (TestHeldExecutionMatchesCold compares the two). The program is then
// the child of bwrap's PID 1, which passes its exit status on to bwrap's
// first process as soon as it has reaped it; bwrap reports it on a pipe
// of ours (--json-status-fd) before it ends, so the result waits for
// neither bwrap's end nor the sandbox's. No shell stays to fork the
// program and report its status, which cost every such execution a
// fork and an exit more.
type heldShell struct {
	cmd    *exec.Cmd
	pid    int      // the host PID of the sandbox's first process
	env    []string // the environment bwrap gave the shell (sorted)
	cwd    string   // the shell's working directory, as it sees it
	script *os.File // the write end of the shell's standard input
	diag   *os.File // the read end of bwrap's standard output and error
	status *os.File // the read end of bwrap's status reports (--json-status-fd)
	st     *streams // the program's standard streams (child ends at fdHeld ...)

	// exited is closed once bwrap exited; waitErr is then set.
	exited  chan struct{}
	waitErr error
	// taken (under the sandbox's mu): an execution owns the descriptors.
	taken, gone bool
}

// hold starts the sandbox's first process and leaves its shell waiting
// for a command (heldShell). The warm pool calls it on the sandboxes it
// makes.
func (s *sandbox) hold(ctx context.Context) error {
	cwd := s.inside(".")
	pr, err := s.buildProfile([]string{"/bin/sh"}, cwd, nil)
	if err != nil {
		return err
	}
	pr.ownInit = false
	h := &heldShell{env: pr.env, cwd: cwd, exited: make(chan struct{}), st: &streams{}}
	// bwrap's own standard output and error, for its messages should it
	// fail; the sandbox's PID 1 holds them, so the program's are pipes of
	// their own, which end as soon as the program (and what it left) is
	// gone.
	var scriptR, diagR, diagW, statusW *os.File
	fail := func(err error) error {
		for _, f := range []*os.File{scriptR, h.script, diagR, diagW, h.status, statusW} {
			if f != nil {
				_ = f.Close()
			}
		}
		h.st.close()
		return err
	}
	if h.script, scriptR, err = childPipe(true); err != nil {
		return fail(fmt.Errorf("local: pipe: %w", err))
	}
	if h.st.inW, h.st.inR, err = childPipe(true); err != nil {
		return fail(fmt.Errorf("local: stdin pipe: %w", err))
	}
	if h.st.outR, h.st.outW, err = childPipe(false); err != nil {
		return fail(fmt.Errorf("local: stdout pipe: %w", err))
	}
	if h.st.errR, h.st.errW, err = childPipe(false); err != nil {
		return fail(fmt.Errorf("local: stderr pipe: %w", err))
	}
	if diagR, diagW, err = childPipe(false); err != nil {
		return fail(fmt.Errorf("local: pipe: %w", err))
	}
	if h.status, statusW, err = childPipe(false); err != nil {
		return fail(fmt.Errorf("local: pipe: %w", err))
	}
	pr.held = []*os.File{h.st.inR, h.st.outW, h.st.errW, statusW}
	l, err := s.p.iso.prepare(pr)
	if err != nil {
		return fail(err)
	}
	l.cmd.Stdin, l.cmd.Stdout, l.cmd.Stderr = scriptR, diagW, diagW
	if err := s.begin(l.cmd); err != nil {
		l.close()
		return fail(err)
	}
	pid, err := s.spawn(ctx, l, pr.cgroup)
	// The child's ends are the shell's now (or nobody's).
	_ = scriptR.Close()
	_ = diagW.Close()
	_ = statusW.Close()
	scriptR, diagW, statusW = nil, nil, nil
	h.st.closeChild()
	h.st.inR, h.st.outW, h.st.errW = nil, nil, nil
	if err != nil {
		s.end(l.cmd)
		// bwrap is gone: what it said is in the pipe.
		_ = diagR.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		msg, _ := io.ReadAll(io.LimitReader(diagR, 4<<10))
		return fail(fmt.Errorf("local: start the sandbox's shell: %w %s", err, strings.TrimSpace(string(msg))))
	}
	h.diag = diagR
	h.cmd, h.pid = l.cmd, pid
	go func() {
		h.waitErr = l.cmd.Wait()
		s.mu.Lock()
		h.gone = true
		taken := h.taken
		s.mu.Unlock()
		if !taken {
			h.closeFiles()
		}
		_ = h.diag.Close()
		close(h.exited)
		s.end(l.cmd)
	}()
	s.mu.Lock()
	s.held = h
	s.mu.Unlock()
	return nil
}

// takeHeld hands the sandbox's held shell, if it still waits, to the
// execution that calls it; nil otherwise.
func (s *sandbox) takeHeld() *heldShell {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.held
	s.held = nil
	if h == nil || h.gone {
		return nil
	}
	h.taken = true
	return h
}

// heldAlive reports whether the sandbox's shell still waits for its
// command.
func (s *sandbox) heldAlive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held != nil && !s.held.gone
}

// dropHeld ends the sandbox's held shell, which no execution will use
// once its init runs.
func (s *sandbox) dropHeld() {
	if h := s.takeHeld(); h != nil {
		h.release()
	}
}

// release kills a taken shell that will not run a command and closes its
// descriptors once it is gone.
func (h *heldShell) release() {
	killTree(h.cmd)
	go func() {
		<-h.exited
		h.closeFiles()
	}()
}

// closeFiles closes the descriptors an execution would use.
func (h *heldShell) closeFiles() {
	_ = h.script.Close()
	_ = h.status.Close()
	h.st.close()
}

// heldCommand renders the command line a held shell runs: argv (a
// program, or /bin/sh -c and a command) in cwd with env; false when env
// holds a name the shell cannot set (every name that reaches here is
// checked, so this is defence in depth).
func heldCommand(argv []string, cwd string, have, env []string, stdin bool) (string, bool) {
	var b strings.Builder
	in, out, errs, status := fdString(fdHeld), fdString(fdHeld+1), fdString(fdHeld+2), fdString(fdHeld+3)
	want := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		want[k] = v
	}
	for _, kv := range have {
		k, v, _ := strings.Cut(kv, "=")
		if w, ok := want[k]; ok && w == v {
			delete(want, k)
			continue
		}
		if _, ok := want[k]; !ok {
			if !shellName(k) {
				return "", false
			}
			b.WriteString("unset " + k + " && ")
		}
	}
	if cwd != "" {
		// cwd is absolute, so CDPATH plays no part; the PWD it leaves is
		// the one bwrap sets (the path as given, links and all), and the
		// shell's own OLDPWD is no variable of the execution's.
		b.WriteString("cd " + shellQuote(cwd) + " 2>&" + errs + " && unset OLDPWD && ")
	}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := want[k]; !ok {
			continue
		}
		if !shellName(k) {
			return "", false
		}
		b.WriteString("export " + shellQuote(kv) + " && ")
	}
	// The shell becomes the program, with its streams in place; should
	// the exec fail, the shell says why on the program's standard error
	// and exits with 127 (not found) or 126, as a shell's child would.
	b.WriteString("exec")
	for _, a := range argv {
		b.WriteString(" " + shellQuote(a))
	}
	if stdin {
		b.WriteString(" 0<&" + in)
	} else {
		b.WriteString(" 0</dev/null")
	}
	// bwrap has closed its status pipe in the sandbox already; without
	// bwrap (Config.InsecureNoNamespaces) the shell holds it, and the
	// program must not.
	b.WriteString(" 1>&" + out + " 2>&" + errs + " " + in + "<&- " + out + ">&- " + errs + ">&- " + status + ">&-")
	return b.String(), true
}

// readExitStatus reads bwrap's status reports (--json-status-fd) to
// their end and returns the exit code the last one gave, or -1 for none.
func readExitStatus(r io.Reader) int {
	code := -1
	dec := json.NewDecoder(io.LimitReader(r, 4<<10))
	for {
		var report struct {
			ExitCode *int `json:"exit-code"`
		}
		if dec.Decode(&report) != nil {
			return code
		}
		if report.ExitCode != nil {
			code = *report.ExitCode
		}
	}
}

// shellName reports whether name is a variable name of the shell.
func shellName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// heldLine is the command line that runs argv in cwd through the held
// shell h, with the execution's environment; false when there is none
// (an error in opts is then reported by the bwrap process that runs it
// instead).
func (s *sandbox) heldLine(h *heldShell, argv []string, cwd string, opts computemw.ExecOptions) (string, bool) {
	env, err := s.environ(opts.Env)
	if err != nil {
		return "", false
	}
	if cwd == h.cwd {
		cwd = ""
	}
	return heldCommand(argv, cwd, h.env, env, opts.Stdin != nil)
}

// runHeld runs a command line (heldLine) through the sandbox's held
// shell h, and waits for it, its time limit, or ctx, as runIsolated does
// for a bwrap process of its own.
func (s *sandbox) runHeld(ctx context.Context, h *heldShell, line string, opts computemw.ExecOptions) (*computemw.Result, error) {
	timeout := s.timeLimit(opts.Timeout)
	maxOut := opts.MaxOutputBytes
	if maxOut <= 0 {
		maxOut = s.p.cfg.MaxOutputBytes
	}
	stdout := textstream.NewCapped(maxOut)
	stderr := textstream.NewCapped(maxOut)
	runCtx, cancelRun := context.WithCancelCause(ctx)
	defer cancelRun(nil)
	limitCtx, cancelLimit := context.WithTimeoutCause(runCtx, timeout, errTimeLimit)
	defer cancelLimit()

	defer h.closeFiles()
	if opts.Stdin != nil {
		w, r := h.st.inW, opts.Stdin
		go func() {
			_, _ = io.Copy(w, r)
			_ = w.Close()
		}()
	} else {
		_ = h.st.inW.Close()
	}
	copied := h.st.copyOutput(textstream.Tee(stdout, opts.Stdout, cancelRun), textstream.Tee(stderr, opts.Stderr, cancelRun))

	cg := s.cg
	var before cgroups.Counters
	if cg != nil {
		before = cg.Read()
		if s.active.Add(1) == 1 {
			cg.ResetPeak()
		}
		defer s.active.Add(-1)
	}
	start := time.Now()
	go func() {
		// The shell reads all of it before it runs any of it; with the
		// shell gone, the write ends when bwrap's processes are.
		_, _ = io.WriteString(h.script, line)
		_ = h.script.Close()
	}()
	reported := make(chan int, 1)
	go func() { reported <- readExitStatus(h.status) }()
	// bwrap reports the program's status (128 and the signal's number
	// for one a signal ended) as soon as its PID 1 has reaped it, then
	// ends with that status.
	var stopped bool
	code := -1
	select {
	case code = <-reported:
	case <-limitCtx.Done():
		stopped = true
		killTree(h.cmd)
	}
	var ru *syscall.Rusage
	var waitErr error
	if code < 0 || cg == nil {
		// No report (bwrap killed), or no cgroup to measure the
		// program: bwrap's exit tells.
		<-h.exited
		code, waitErr = exitCode(h.cmd.ProcessState, h.waitErr), h.waitErr
		ru, _ = h.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	}
	// The program is gone; what it wrote is in the pipes, which end with
	// the last process that holds them (waitDelay, as for a bwrap process
	// of its own, whose pipes end when the kernel has torn its namespaces
	// down).
	h.st.drainWithin(copied, waitDelay)
	return s.isolatedResult(code, ru, waitErr, stdout, stderr, start, cg, before, stopped, runCtx, limitCtx, timeout)
}

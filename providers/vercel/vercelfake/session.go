package vercelfake

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"sort"
	"sync"
	"syscall"
	"time"
)

// maxLog caps what the fake keeps of one command's output.
const maxLog = 16 << 20

// session is one fake session of a sandbox: a directory on the host (its
// working directory) whose commands run there. The fields above pmu are
// guarded by Server.mu.
type session struct {
	id, name     string
	dir, cwd     string
	env          map[string]string
	request      map[string]any
	tags         map[string]string
	status       string
	pendingPolls int
	timeout      int64 // ms
	vcpus        int
	region       string
	persistent   bool
	createdAt    int64
	startedAt    int64
	stoppedAt    int64
	updatedAt    int64

	pmu  sync.Mutex
	cmds map[string]*command
	seq  int
	dead bool
}

// command is one command of a session, running or finished.
type command struct {
	id, name  string
	args      []string
	cwd       string
	sessionID string
	startedAt int64
	cmd       *exec.Cmd
	done      chan struct{}

	mu         sync.Mutex
	events     []logEvent
	size       int
	exit       *int
	durationMs int64
	changed    chan struct{} // closed when events or exit change
}

// logEvent is one chunk of output, as the vendor streams it.
type logEvent struct {
	stream string // "stdout" or "stderr"
	data   string
}

type logWriter struct {
	c      *command
	stream string
}

func (w logWriter) Write(p []byte) (int, error) {
	c := w.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := maxLog - c.size; room > 0 {
		chunk := p[:min(len(p), room)]
		c.events = append(c.events, logEvent{stream: w.stream, data: string(chunk)})
		c.size += len(chunk)
		c.notify()
	}
	return len(p), nil
}

// notify wakes the followers. The caller holds c.mu.
func (c *command) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// since returns the events from index i on, the exit code when the
// command has ended, and a channel closed at the next change.
func (c *command) since(i int) ([]logEvent, *int, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.events[min(i, len(c.events)):], c.exit, c.changed
}

// environ is the environment of a session's processes: a fixed base, the
// sandbox's variables, then the command's.
func (ss *session) environ(extra map[string]string) []string {
	env := map[string]string{"PATH": os.Getenv("PATH"), "HOME": ss.cwd, "LANG": "C.UTF-8"}
	maps.Copy(env, ss.env)
	maps.Copy(env, extra)
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+"="+env[k])
	}
	return out
}

var errStopped = errors.New("session is stopped")

// start runs a command (argv, no shell) in the session; stdin is empty,
// as the API has no way to write to it. A timeout (ms, 0: none) kills it.
func (ss *session) start(name string, args []string, cwd string, env map[string]string, timeout int64) (*command, error) {
	ss.pmu.Lock()
	defer ss.pmu.Unlock()
	if ss.dead {
		return nil, errStopped
	}
	ss.seq++
	c := &command{
		id: fmt.Sprintf("cmd_%s_%04d", ss.id, ss.seq), name: name, args: args, cwd: cwd, sessionID: ss.id,
		startedAt: nowMs(), done: make(chan struct{}), changed: make(chan struct{}),
	}
	c.cmd = exec.Command(name, args...)
	c.cmd.Dir = cwd
	c.cmd.Env = ss.environ(env)
	c.cmd.Stdout = logWriter{c, "stdout"}
	c.cmd.Stderr = logWriter{c, "stderr"}
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.cmd.Start(); err != nil {
		return nil, err
	}
	ss.cmds[c.id] = c
	var timer *time.Timer
	if timeout > 0 {
		timer = time.AfterFunc(time.Duration(timeout)*time.Millisecond, func() { c.signal(syscall.SIGKILL) })
	}
	go func() {
		err := c.cmd.Wait()
		if timer != nil {
			timer.Stop()
		}
		code := 0
		if err != nil {
			code = -1
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
				if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					code = 128 + int(ws.Signal())
				}
			}
		}
		c.mu.Lock()
		c.exit = &code
		c.durationMs = nowMs() - c.startedAt
		c.notify()
		c.mu.Unlock()
		close(c.done)
	}()
	return c, nil
}

// signal sends sig to a command's whole process group.
func (c *command) signal(sig syscall.Signal) {
	if p := c.cmd.Process; p != nil {
		syscall.Kill(-p.Pid, sig)
	}
}

// stop ends every command and removes the session's directory.
func (ss *session) stop() {
	ss.pmu.Lock()
	ss.dead = true
	cmds := make([]*command, 0, len(ss.cmds))
	for _, c := range ss.cmds {
		cmds = append(cmds, c)
	}
	ss.pmu.Unlock()
	for _, c := range cmds {
		c.signal(syscall.SIGKILL)
		<-c.done
	}
	os.RemoveAll(ss.dir)
}

func (ss *session) running() int {
	ss.pmu.Lock()
	defer ss.pmu.Unlock()
	n := 0
	for _, c := range ss.cmds {
		select {
		case <-c.done:
		default:
			n++
		}
	}
	return n
}

func (ss *session) command(id string) *command {
	ss.pmu.Lock()
	defer ss.pmu.Unlock()
	return ss.cmds[id]
}

// payload is the command as the API describes it (validators.ts Command).
func (c *command) payload() map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := map[string]any{
		"id": c.id, "name": c.name, "args": c.args, "cwd": c.cwd, "sessionId": c.sessionID,
		"exitCode": nil, "startedAt": c.startedAt,
	}
	if c.exit != nil {
		m["exitCode"] = *c.exit
		m["durationMs"] = c.durationMs
	}
	return m
}

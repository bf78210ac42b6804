package daytonafake

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"sort"
	"sync"
	"syscall"
)

// maxLog caps what the fake keeps of one stream of one command.
const maxLog = 16 << 20

// sandbox is one fake sandbox: a directory on the host whose commands run
// with sh -c. The fields above pmu are guarded by Server.mu.
type sandbox struct {
	id, name, dir, workDir string
	env, labels            map[string]string
	request                map[string]any
	state, desiredState    string
	startsAs               string // the state after pendingPolls
	pendingPolls           int
	destroyPolls           int
	activity               int
	autoStop               int // minutes
	cpu, memory, disk      int
	snapshot, target       string

	pmu      sync.Mutex
	sessions map[string]*session
	dead     bool
}

type session struct {
	id   string
	cmds map[string]*command
}

// command is one command of a session, running or finished.
type command struct {
	id, line string
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	done     chan struct{}

	mu             sync.Mutex
	stdout, stderr bytes.Buffer
	exit           *int
}

type logWriter struct {
	c   *command
	buf *bytes.Buffer
}

func (w logWriter) Write(p []byte) (int, error) {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	if room := maxLog - w.buf.Len(); room > 0 {
		w.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// environ is the environment of a sandbox's processes: a fixed base, the
// sandbox's variables, then the call's.
func (sb *sandbox) environ(extra map[string]string) []string {
	env := map[string]string{"PATH": os.Getenv("PATH"), "HOME": sb.workDir, "LANG": "C.UTF-8"}
	maps.Copy(env, sb.env)
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

// start runs line in a session.
func (sb *sandbox) start(sessionID, cmdID, line string) (*command, error) {
	sb.pmu.Lock()
	defer sb.pmu.Unlock()
	if sb.dead {
		return nil, errors.New("sandbox is destroyed")
	}
	ses := sb.sessions[sessionID]
	if ses == nil {
		return nil, errNoSession
	}
	c := &command{id: cmdID, line: line, done: make(chan struct{})}
	c.cmd = exec.Command("sh", "-c", line)
	c.cmd.Dir = sb.workDir
	c.cmd.Env = sb.environ(nil)
	c.cmd.Stdout = logWriter{c, &c.stdout}
	c.cmd.Stderr = logWriter{c, &c.stderr}
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	in, err := c.cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	c.stdin = in
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting: %w", err)
	}
	ses.cmds[cmdID] = c
	go func() {
		err := c.cmd.Wait()
		code := 0
		if err != nil {
			code = -1
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			}
		}
		c.mu.Lock()
		c.exit = &code
		c.mu.Unlock()
		close(c.done)
	}()
	return c, nil
}

var errNoSession = errors.New("session not found")

// kill ends a command's whole process group and waits for it.
func (c *command) kill() {
	if p := c.cmd.Process; p != nil {
		syscall.Kill(-p.Pid, syscall.SIGKILL)
	}
	c.stdin.Close()
	<-c.done
}

func (c *command) logs() (string, string, *int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stdout.String(), c.stderr.String(), c.exit
}

// deleteSession ends a session's commands.
func (sb *sandbox) deleteSession(id string) bool {
	sb.pmu.Lock()
	ses := sb.sessions[id]
	delete(sb.sessions, id)
	sb.pmu.Unlock()
	if ses == nil {
		return false
	}
	for _, c := range ses.cmds {
		c.kill()
	}
	return true
}

// destroy ends every command and removes the sandbox's directory.
func (sb *sandbox) destroy() {
	sb.pmu.Lock()
	sb.dead = true
	ids := make([]string, 0, len(sb.sessions))
	for id := range sb.sessions {
		ids = append(ids, id)
	}
	sb.pmu.Unlock()
	for _, id := range ids {
		sb.deleteSession(id)
	}
	os.RemoveAll(sb.dir)
}

func (sb *sandbox) running() int {
	sb.pmu.Lock()
	defer sb.pmu.Unlock()
	n := 0
	for _, ses := range sb.sessions {
		for _, c := range ses.cmds {
			select {
			case <-c.done:
			default:
				n++
			}
		}
	}
	return n
}

func (sb *sandbox) command(sessionID, cmdID string) *command {
	sb.pmu.Lock()
	defer sb.pmu.Unlock()
	if ses := sb.sessions[sessionID]; ses != nil {
		return ses.cmds[cmdID]
	}
	return nil
}

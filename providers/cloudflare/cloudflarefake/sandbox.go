package cloudflarefake

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
)

// sandbox is one fake container: a directory of this host whose workspace
// subdirectory stands for /workspace.
type sandbox struct {
	id, dir, workspace string

	mu       sync.Mutex
	sessions map[string]*session
	cmds     map[*command]struct{}
	dead     bool
}

// session is a bridge session: a working directory, variables, and at
// most one PTY.
type session struct {
	id  string
	cwd string // host path
	env map[string]string
	pty *ptyProc
}

// command is one running exec.
type command struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// hostPath maps an absolute sandbox path under /workspace to this host,
// as the bridge's resolveWorkspacePath normalises it; ok is false outside
// /workspace.
func (sb *sandbox) hostPath(p string) (string, bool) {
	if !strings.HasPrefix(p, "/") {
		p = "/workspace/" + p
	}
	var parts []string
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(parts) > 0 {
				parts = parts[:len(parts)-1]
			}
		default:
			parts = append(parts, seg)
		}
	}
	if len(parts) == 0 || parts[0] != "workspace" {
		return "", false
	}
	return filepath.Join(append([]string{sb.workspace}, parts[1:]...)...), true
}

// environ is the environment of a sandbox's processes: a fixed base, then
// a session's variables.
func (sb *sandbox) environ(extra map[string]string) []string {
	env := map[string]string{"PATH": os.Getenv("PATH"), "HOME": sb.workspace, "LANG": "C.UTF-8"}
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

func (sb *sandbox) running() int {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return len(sb.cmds)
}

func (sb *sandbox) ptys() int {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	n := 0
	for _, ses := range sb.sessions {
		if ses.pty != nil {
			n++
		}
	}
	return n
}

// deleteSession ends a session and its PTY; ok is false for an unknown
// one.
func (sb *sandbox) deleteSession(id string) bool {
	sb.mu.Lock()
	ses := sb.sessions[id]
	delete(sb.sessions, id)
	var p *ptyProc
	if ses != nil {
		p = ses.pty
	}
	sb.mu.Unlock()
	if ses == nil {
		return false
	}
	if p != nil {
		p.end()
	}
	return true
}

// destroy ends every command, session and PTY and removes the directory.
func (sb *sandbox) destroy() {
	sb.mu.Lock()
	sb.dead = true
	cmds := make([]*command, 0, len(sb.cmds))
	for c := range sb.cmds {
		cmds = append(cmds, c)
	}
	ids := make([]string, 0, len(sb.sessions))
	for id := range sb.sessions {
		ids = append(ids, id)
	}
	sb.mu.Unlock()
	for _, c := range cmds {
		c.kill()
	}
	for _, id := range ids {
		sb.deleteSession(id)
	}
	_ = os.RemoveAll(sb.dir)
}

// kill ends a command's whole process group and waits for it.
func (c *command) kill() {
	if p := c.cmd.Process; p != nil {
		_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
	}
	<-c.done
}

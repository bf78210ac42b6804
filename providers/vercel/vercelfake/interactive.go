package vercelfake

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/coder/websocket"
	"github.com/creack/pty"
)

func randomToken() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// startMessage is the first frame of an interactive connection
// (interactive-shell.ts); every field is the client's to send.
type startMessage struct {
	Type    string   `json:"type"`
	Command string   `json:"command"`
	Args    []string `json:"args"`
	Env     []string `json:"env"`
	Cwd     string   `json:"cwd"`
	Cols    int      `json:"cols"`
	Rows    int      `json:"rows"`
}

// interactive serves the controller's terminal WebSocket: the token of
// POST .../interactive in the query, no other credential, a start frame,
// then binary input and text resizes; binary output, then an exit frame.
func (s *Server) interactive(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/interactive/")
	if r.Header.Get("Authorization") != "" {
		s.t.Errorf("vercelfake: the terminal WebSocket of %s was sent an Authorization header: the access token leaves the API", id)
	}
	s.mu.Lock()
	owner, ok := s.tokens[r.URL.Query().Get("token")]
	delete(s.tokens, r.URL.Query().Get("token")) // a token opens one connection
	ss := s.sessions[id]
	running := ss != nil && ss.status == "running"
	s.mu.Unlock()
	if !ok || owner != id {
		s.t.Errorf("vercelfake: the terminal WebSocket of %s was opened without its token", id)
		http.Error(w, "bad token", http.StatusUnauthorized)
		return
	}
	if !running {
		http.Error(w, "sandbox stopped", http.StatusGone)
		return
	}
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer conn.CloseNow()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		select {
		case <-s.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	typ, data, err := conn.Read(ctx)
	if err != nil {
		return
	}
	var start startMessage
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if typ != websocket.MessageText || dec.Decode(&start) != nil || start.Type != "start" || start.Command == "" {
		s.t.Errorf("vercelfake: the first terminal frame is not a start message: %.200q", data)
		conn.Close(websocket.StatusPolicyViolation, "want a start message")
		return
	}
	cwd, inside := ss.resolve("", start.Cwd)
	if start.Cwd == "" {
		cwd = ss.cwd
	}
	if !inside {
		conn.Close(websocket.StatusPolicyViolation, "cwd outside the sandbox")
		return
	}
	env := map[string]string{}
	for _, kv := range start.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			s.t.Errorf("vercelfake: terminal env entry %q is not KEY=VALUE", kv)
			continue
		}
		env[k] = v
	}
	c, ptmx, err := ss.startPTY(start.Command, start.Args, cwd, env, start.Cols, start.Rows)
	if err != nil {
		conn.Close(websocket.StatusInternalError, err.Error())
		return
	}
	defer ptmx.Close()
	go func() { // input and resizes
		for {
			typ, data, err := conn.Read(ctx)
			if err != nil {
				c.signal(syscall.SIGHUP)
				return
			}
			if typ == websocket.MessageBinary {
				ptmx.Write(data)
				continue
			}
			var m struct {
				Type       string `json:"type"`
				Cols, Rows int
			}
			if json.Unmarshal(data, &m) != nil || m.Type != "resize" {
				s.t.Errorf("vercelfake: unknown terminal control frame %.200q", data)
				continue
			}
			pty.Setsize(ptmx, &pty.Winsize{Cols: uint16(m.Cols), Rows: uint16(m.Rows)})
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := ptmx.Read(buf)
		if n > 0 {
			if conn.Write(ctx, websocket.MessageBinary, buf[:n]) != nil {
				c.signal(syscall.SIGKILL)
				break
			}
		}
		if err != nil {
			break // EIO once the program and its children are gone
		}
	}
	<-c.done
	_, exit, _ := c.since(0)
	msg, _ := json.Marshal(map[string]any{"type": "exit", "code": *exit})
	conn.Write(ctx, websocket.MessageText, msg)
	conn.Close(websocket.StatusNormalClosure, "")
}

// startPTY runs a program on a new pseudo-terminal in the session.
func (ss *session) startPTY(name string, args []string, cwd string, env map[string]string, cols, rows int) (*command, *os.File, error) {
	ss.pmu.Lock()
	defer ss.pmu.Unlock()
	if ss.dead {
		return nil, nil, errStopped
	}
	ss.seq++
	c := &command{id: "pty_" + ss.id + "_" + randomToken()[:8], name: name, args: args, cwd: cwd, sessionID: ss.id,
		startedAt: nowMs(), done: make(chan struct{}), changed: make(chan struct{})}
	c.cmd = exec.Command(name, args...)
	c.cmd.Dir = cwd
	c.cmd.Env = ss.environ(env)
	ptmx, err := pty.StartWithSize(c.cmd, &pty.Winsize{Cols: uint16(max(cols, 1)), Rows: uint16(max(rows, 1))})
	if err != nil {
		return nil, nil, err
	}
	ss.cmds[c.id] = c
	go func() {
		err := c.cmd.Wait()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				code = 128 + int(ws.Signal())
			}
		}
		c.mu.Lock()
		c.exit = &code
		c.notify()
		c.mu.Unlock()
		close(c.done)
	}()
	return c, ptmx, nil
}

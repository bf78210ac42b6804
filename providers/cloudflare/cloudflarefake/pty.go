package cloudflarefake

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"

	"github.com/coder/websocket"
	"github.com/creack/pty"
)

// ptyProc is a session's pseudo-terminal: a program on a real PTY, kept
// while clients come and go (the last one gets its output), with the
// recent output replayed to a client that connects.
type ptyProc struct {
	cmd  *exec.Cmd
	f    *os.File
	done chan struct{} // closed when the program has ended and its output is read
	code int

	mu     sync.Mutex
	closed bool // f is closed
	client *websocket.Conn
	replay []byte
	once   sync.Once
}

const replayBytes = 256 << 10

// pty serves ptyTerminal: a WebSocket to the PTY of the session the
// Session-Id header (or the session parameter) names, or of the sandbox's
// default session.
func (s *Server) pty(q *request) {
	cols, rows := 80, 24
	var err error
	if v := q.r.URL.Query().Get("cols"); v != "" {
		if cols, err = strconv.Atoi(v); err != nil || cols <= 0 || cols > 1000 {
			writeErr(q.w, http.StatusBadRequest, "cols and rows must be valid numbers", "invalid_request")
			return
		}
	}
	if v := q.r.URL.Query().Get("rows"); v != "" {
		if rows, err = strconv.Atoi(v); err != nil || rows <= 0 || rows > 1000 {
			writeErr(q.w, http.StatusBadRequest, "cols and rows must be valid numbers", "invalid_request")
			return
		}
	}
	sid := q.r.Header.Get("Session-Id")
	if sid == "" {
		sid = q.r.URL.Query().Get("session")
	}
	if sid == "" {
		sid = "sandbox-" + q.params["id"]
	}
	ses, ok := q.session(sid)
	if !ok {
		writeErr(q.w, http.StatusBadRequest, "Invalid session ID format", "invalid_request")
		return
	}
	shell := q.r.URL.Query().Get("shell")
	if shell == "" {
		shell = "bash"
	}
	p, err := q.sb.ptyOf(ses, shell, cols, rows)
	if err != nil {
		writeErr(q.w, http.StatusBadGateway, "terminal failed: "+err.Error(), "exec_transport_error")
		return
	}
	ws, err := websocket.Accept(q.w, q.r, nil)
	if err != nil {
		return
	}
	p.attach(ws)
}

// ptyOf returns the session's PTY, starting its program if it has none.
func (sb *sandbox) ptyOf(ses *session, shell string, cols, rows int) (*ptyProc, error) {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if sb.dead {
		return nil, errors.New("the sandbox was destroyed")
	}
	if ses.pty != nil {
		return ses.pty, nil
	}
	env := map[string]string{}
	for k, v := range ses.env {
		env[k] = v
	}
	env["TERM"] = "xterm-256color"
	cmd := exec.Command(shell)
	cmd.Dir = ses.cwd
	cmd.Env = sb.environ(env)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: uint16(cols), Rows: uint16(rows)})
	if err != nil {
		return nil, err
	}
	p := &ptyProc{cmd: cmd, f: f, done: make(chan struct{})}
	ses.pty = p
	go p.pump(func() {
		sb.mu.Lock()
		if ses.pty == p {
			ses.pty = nil
		}
		sb.mu.Unlock()
	})
	return p, nil
}

// pump copies the program's output to the client until it ends, then
// tells the client the exit code and closes its WebSocket.
func (p *ptyProc) pump(ended func()) {
	buf := make([]byte, 32<<10)
	for {
		n, err := p.f.Read(buf)
		if n > 0 {
			p.output(buf[:n])
		}
		if err != nil {
			break
		}
	}
	err := p.cmd.Wait()
	p.mu.Lock()
	_ = p.f.Close()
	p.closed = true
	p.mu.Unlock()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
	}
	p.code = code
	ended()
	p.mu.Lock()
	ws := p.client
	p.client = nil
	p.mu.Unlock()
	if ws != nil {
		msg, _ := json.Marshal(map[string]any{"type": "exit", "code": code})
		ctx, cancel := context.WithTimeout(context.Background(), 5e9)
		_ = ws.Write(ctx, websocket.MessageText, msg)
		cancel()
		_ = ws.Close(websocket.StatusNormalClosure, "")
	}
	close(p.done)
}

// output sends a chunk to the client and keeps it for a replay.
func (p *ptyProc) output(b []byte) {
	p.mu.Lock()
	p.replay = append(p.replay, b...)
	if len(p.replay) > replayBytes {
		p.replay = p.replay[len(p.replay)-replayBytes:]
	}
	ws := p.client
	p.mu.Unlock()
	if ws != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5e9)
		_ = ws.Write(ctx, websocket.MessageBinary, b)
		cancel()
	}
}

// attach serves one client: the replay, ready, then its input and resize
// messages until it leaves (the PTY stays) or the program ends.
func (p *ptyProc) attach(ws *websocket.Conn) {
	ctx := context.Background()
	p.mu.Lock()
	select {
	case <-p.done:
		p.mu.Unlock()
		_ = ws.Close(websocket.StatusInternalError, "PTY is closed")
		return
	default:
	}
	if old := p.client; old != nil {
		_ = old.CloseNow()
	}
	p.client = ws
	replay := append([]byte(nil), p.replay...)
	p.mu.Unlock()
	if len(replay) > 0 {
		_ = ws.Write(ctx, websocket.MessageBinary, replay)
	}
	_ = ws.Write(ctx, websocket.MessageText, []byte(`{"type":"ready"}`))
	for {
		typ, data, err := ws.Read(ctx)
		if err != nil {
			p.mu.Lock()
			if p.client == ws {
				p.client = nil
			}
			p.mu.Unlock()
			_ = ws.CloseNow()
			return
		}
		if typ == websocket.MessageBinary {
			p.mu.Lock()
			if !p.closed {
				_, _ = p.f.Write(data)
			}
			p.mu.Unlock()
			continue
		}
		var ctl struct {
			Type       string `json:"type"`
			Cols, Rows int
		}
		if json.Unmarshal(data, &ctl) != nil || ctl.Type != "resize" {
			_ = ws.Write(ctx, websocket.MessageText, []byte(`{"type":"error","message":"Invalid control message"}`))
			continue
		}
		if ctl.Cols <= 0 || ctl.Rows <= 0 {
			_ = ws.Write(ctx, websocket.MessageText, []byte(`{"type":"error","message":"Invalid dimensions: cols and rows must be positive"}`))
			continue
		}
		p.mu.Lock()
		if !p.closed {
			_ = pty.Setsize(p.f, &pty.Winsize{Cols: uint16(ctl.Cols), Rows: uint16(ctl.Rows)})
		}
		p.mu.Unlock()
	}
}

// end kills the program (its whole session) and waits for its end.
func (p *ptyProc) end() {
	p.once.Do(func() {
		if proc := p.cmd.Process; proc != nil {
			_ = syscall.Kill(-proc.Pid, syscall.SIGKILL)
		}
	})
	<-p.done
}

package cloudflare

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/computemw/kit/computemw"
)

// sessionBody is the body of POST /v1/sandbox/{id}/session.
type sessionBody struct {
	ID  string            `json:"id,omitempty"`
	Cwd string            `json:"cwd,omitempty"`
	Env map[string]string `json:"env,omitempty"`
}

// sessionAnswer is its answer.
type sessionAnswer struct {
	ID string `json:"id"`
}

// ptyStatus is a status message of the PTY WebSocket (a text frame).
type ptyStatus struct {
	Type    string `json:"type"`
	Code    *int   `json:"code,omitempty"`
	Signal  string `json:"signal,omitempty"`
	Message string `json:"message,omitempty"`
}

// programName is what the bridge's PTY can start: one program, by name or
// path, without arguments (its shell parameter).
var programName = regexp.MustCompile(`^[A-Za-z0-9_./+-]{1,256}$`)

// OpenTerminal starts a program on a pseudo-terminal through the bridge's
// PTY WebSocket, in /workspace: a login shell (the image's bash) when
// opts.Command is empty, else opts.Command, which must name one program
// without arguments (the bridge starts a shell binary, nothing else); a
// command with arguments is not supported.
//
// Each terminal gets a bridge session of its own (the Session-Id the PTY
// is scoped to) holding CreateOptions.Env, opts.Env and
// TERM=xterm-256color; Close deletes the session, which ends the program.
// It runs until it exits, Close is called, or the sandbox is destroyed;
// ctx bounds only the start.
func (s *Sandbox) OpenTerminal(ctx context.Context, opts computemw.TerminalOptions) (computemw.Terminal, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	if opts.Command != "" && !programName.MatchString(opts.Command) {
		return nil, computemw.Unsupported(Name, "a terminal command with arguments (the bridge's PTY starts one program by name)")
	}
	if err := computemw.ValidateEnv(opts.Env); err != nil {
		return nil, err
	}
	base, err := s.environment(ctx)
	if err != nil {
		return nil, err
	}
	env := maps.Clone(base)
	if env == nil {
		env = map[string]string{}
	}
	maps.Copy(env, opts.Env)
	env["TERM"] = "xterm-256color"

	sid := "computemw-term-" + newTag()
	var created sessionAnswer
	err = s.p.do(ctx, call{op: "create session", method: http.MethodPost, path: sandboxPath(s.id) + "/session",
		json: sessionBody{ID: sid, Cwd: Workspace, Env: env}, want: []int{http.StatusOK}, out: &created})
	if err != nil {
		// Without an answer it may exist: delete it by its name.
		s.deleteSession(sid)
		return nil, err
	}
	if created.ID != sid {
		s.deleteSession(sid)
		return nil, unexpected("create session", fmt.Sprintf("the answer names session %q", truncate(created.ID, 60)))
	}
	t := &terminal{s: s, sid: sid, done: make(chan struct{}), code: -1}
	if err := t.dial(ctx, opts); err != nil {
		s.deleteSession(sid)
		return nil, err
	}
	s.mu.Lock()
	if s.destroyed {
		s.mu.Unlock()
		_ = t.Close()
		return nil, &computemw.Error{Code: computemw.CodeNotFound, Message: "the sandbox was destroyed"}
	}
	s.terms[t] = struct{}{}
	s.mu.Unlock()
	return t, nil
}

// deleteSession deletes a bridge session, detached from any caller. It is
// not retried: the bridge answers 502 session_error for a session it does
// not know, which another try would not change.
func (s *Sandbox) deleteSession(sid string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := s.p.do(ctx, call{op: "delete session", method: http.MethodDelete,
		path: sandboxPath(s.id) + "/session/" + url.PathEscape(sid), want: []int{http.StatusOK}})
	if err != nil {
		// A session already gone answers 502 (session_error): not worth more.
		s.p.opts.Logger.Debug("cloudflare: deleting a terminal's session", "sandbox", s.id, "err", err)
	}
}

// terminal is a program on the bridge's PTY.
type terminal struct {
	s   *Sandbox
	sid string
	ws  *websocket.Conn
	pr  *io.PipeReader
	pw  *io.PipeWriter

	writeMu sync.Mutex

	done     chan struct{}
	code     int
	err      error
	closing  atomic.Bool // Close was called: the end is ours, not an error
	closeOne sync.Once
	endOne   sync.Once
}

// endSession deletes the terminal's session once, which ends its program.
func (t *terminal) endSession() { t.endOne.Do(func() { t.s.deleteSession(t.sid) }) }

// killedCode is the exit code of a program ended by SIGKILL, as a shell
// reports it.
const killedCode = 128 + 9

// dial opens the PTY WebSocket and waits for its ready message.
func (t *terminal) dial(ctx context.Context, opts computemw.TerminalOptions) error {
	q := url.Values{"cols": {strconv.Itoa(int(max(opts.Cols, 1)))}, "rows": {strconv.Itoa(int(max(opts.Rows, 1)))}}
	if opts.Command != "" {
		q.Set("shell", opts.Command)
	}
	u := t.s.p.opts.URL + sandboxPath(t.s.id) + "/pty?" + q.Encode()
	ws, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{
		HTTPClient: t.s.p.http,
		HTTPHeader: http.Header{"Session-Id": {t.sid}},
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			se := readStatusError("open terminal", resp)
			_ = resp.Body.Close()
			return classify(se)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("cloudflare: open terminal: %w", ctx.Err())
		}
		return transportError("open terminal", err)
	}
	ws.SetReadLimit(4 << 20)
	t.ws = ws
	// The first message is ready (or an error).
	for {
		typ, data, err := ws.Read(ctx)
		if err != nil {
			_ = ws.CloseNow()
			if ctx.Err() != nil {
				return fmt.Errorf("cloudflare: open terminal: %w", ctx.Err())
			}
			return &computemw.Error{Code: computemw.CodeUnavailable, Message: "provider cloudflare could not open the terminal",
				Err: fmt.Errorf("cloudflare: open terminal: %w", err)}
		}
		if typ != websocket.MessageText {
			continue // output before ready: a reconnect's replay, which a new session has none of
		}
		var st ptyStatus
		if json.Unmarshal(data, &st) != nil {
			continue
		}
		switch st.Type {
		case "ready":
			t.pr, t.pw = io.Pipe()
			go t.follow()
			return nil
		case "error":
			_ = ws.CloseNow()
			return &computemw.Error{Code: computemw.CodeExecution, Message: "provider cloudflare could not start the terminal",
				Details: truncate(st.Message, 500)}
		}
	}
}

// follow reads the WebSocket until the program's end; output goes to the
// pipe that Read reads.
func (t *terminal) follow() {
	defer close(t.done)
	defer t.endSession()
	discard := false
	for {
		typ, data, err := t.ws.Read(context.Background())
		if err != nil {
			_ = t.ws.CloseNow()
			if t.closing.Load() {
				t.code = killedCode
			} else if t.code < 0 {
				t.err = &computemw.Error{Code: computemw.CodeUnavailable, Message: "provider cloudflare lost the terminal",
					Err: fmt.Errorf("cloudflare: terminal: %w", err)}
			}
			_ = t.pw.CloseWithError(io.EOF)
			return
		}
		if typ == websocket.MessageBinary {
			if !discard {
				if _, err := t.pw.Write(data); err != nil {
					discard = true // Close is under way; wait for the end
				}
			}
			continue
		}
		var st ptyStatus
		if json.Unmarshal(data, &st) != nil {
			continue
		}
		switch st.Type {
		case "exit":
			t.code = 0
			if st.Code != nil {
				t.code = *st.Code
			}
			if t.closing.Load() {
				t.code = killedCode
			}
			_ = t.ws.Close(websocket.StatusNormalClosure, "")
			_ = t.pw.CloseWithError(io.EOF)
			return
		case "error":
			t.s.p.opts.Logger.Debug("cloudflare: terminal error message", "sandbox", t.s.id, "message", truncate(st.Message, 200))
		}
	}
}

func (t *terminal) ended() bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

// Read returns the program's output; io.EOF once it has ended.
func (t *terminal) Read(p []byte) (int, error) { return t.pr.Read(p) }

// Write types into the program (binary frames).
func (t *terminal) Write(p []byte) (int, error) {
	if t.ended() || t.closing.Load() {
		return 0, errors.New("cloudflare: the terminal has ended")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	if err := t.ws.Write(ctx, websocket.MessageBinary, p); err != nil {
		return 0, &computemw.Error{Code: computemw.CodeUnavailable, Message: "provider cloudflare lost the terminal", Err: err}
	}
	return len(p), nil
}

// Resize changes the window size (a text frame {"type":"resize"}).
func (t *terminal) Resize(cols, rows uint16) error {
	if t.ended() || t.closing.Load() {
		return errors.New("cloudflare: the terminal has ended")
	}
	msg, _ := json.Marshal(map[string]any{"type": "resize", "cols": max(cols, 1), "rows": max(rows, 1)})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	if err := t.ws.Write(ctx, websocket.MessageText, msg); err != nil {
		return &computemw.Error{Code: computemw.CodeUnavailable, Message: "provider cloudflare lost the terminal", Err: err}
	}
	return nil
}

// Wait waits for the program to end and returns its exit code.
func (t *terminal) Wait() (int, error) {
	<-t.done
	return t.code, t.err
}

// Close ends the program by deleting its session, waits a little for the
// bridge to report the end, and closes the WebSocket. Wait then returns
// 137 and no error.
func (t *terminal) Close() error {
	t.closeOne.Do(func() {
		t.closing.Store(true)
		_ = t.pr.Close() // a blocked output write gives up; the rest is drained
		if !t.ended() {
			t.endSession()
			wait := time.NewTimer(5 * time.Second)
			select {
			case <-t.done:
			case <-wait.C:
			}
			wait.Stop()
			_ = t.ws.CloseNow()
		}
		<-t.done
		t.s.mu.Lock()
		delete(t.s.terms, t)
		t.s.mu.Unlock()
	})
	return nil
}

// abandon ends the terminal of a sandbox being destroyed: the WebSocket is
// closed at once, as the destroy ends the program.
func (t *terminal) abandon() {
	t.closeOne.Do(func() {
		t.closing.Store(true)
		_ = t.pr.Close()
		_ = t.ws.CloseNow()
		<-t.done
	})
}

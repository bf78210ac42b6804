package vercel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/coder/websocket"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/internal/vendorhttp"
)

var _ computemw.TerminalOpener = (*Sandbox)(nil)

// interactiveAnswer is what POST .../interactive answers: where the
// controller's pseudo-terminal listens, and the token that opens it.
type interactiveAnswer struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

// OpenTerminal implements computemw.TerminalOpener with the controller's
// pseudo-terminal, as the vendor's CLI opens it (`sandbox connect`): POST
// .../interactive gives a WebSocket URL and a token; the client sends a
// start frame (command, args, env, cwd, size), then binary frames of
// input and resize frames, and reads binary frames of output until an
// exit frame. The access token is not sent there: the WebSocket is
// opened with the session's token alone, no redirect is followed, and
// the URL must be wss (ws only when APIURL itself is plain http, as a
// fake's is).
func (s *Sandbox) OpenTerminal(ctx context.Context, opts computemw.TerminalOptions) (computemw.Terminal, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	var ia interactiveAnswer
	// Asking twice only issues another token: the call is retried.
	if err := s.p.call(vendorhttp.Idempotent(ctx), request{op: "openInteractive", method: http.MethodPost,
		path: sessionPath(s.id, "interactive"), body: struct{}{}}, 64<<10, &ia); err != nil {
		return nil, err
	}
	u, err := url.Parse(ia.URL)
	if err != nil || u.Host == "" || (u.Scheme != "wss" && !(u.Scheme == "ws" && s.p.plainHTTP())) || ia.Token == "" {
		return nil, unexpected("openInteractive", fmt.Errorf("terminal URL %.100q", ia.URL))
	}
	q := u.Query()
	q.Set("token", ia.Token)
	u.RawQuery = q.Encode()
	client := &http.Client{Transport: s.p.opts.HTTPClient.Transport, CheckRedirect: func(*http.Request, []*http.Request) error {
		return errors.New("a redirect is never followed")
	}}
	conn, _, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{HTTPClient: client})
	if err != nil {
		return nil, classify.Call("terminal", errors.New(redact(err.Error(), ia.Token)))
	}
	conn.SetReadLimit(1 << 20)
	cmd, args := "bash", []string{"-l"}
	if opts.Command != "" {
		cmd, args = "sh", []string{"-c", opts.Command}
	}
	env := []string{"TERM=xterm-256color"}
	for k, v := range opts.Env {
		if !envName.MatchString(k) {
			conn.CloseNow()
			return nil, computemw.Errorf(computemw.CodeBadRequest, "invalid environment variable name %q", k)
		}
		env = append(env, k+"="+v)
	}
	start, _ := json.Marshal(map[string]any{"type": "start", "command": cmd, "args": args, "env": env,
		"cwd": s.workDir, "cols": max(opts.Cols, 1), "rows": max(opts.Rows, 1)})
	if err := conn.Write(ctx, websocket.MessageText, start); err != nil {
		conn.CloseNow()
		return nil, classify.Call("terminal", err)
	}
	life, cancel := context.WithCancel(context.WithoutCancel(ctx))
	t := &terminal{s: s, conn: conn, life: life, cancel: cancel, done: make(chan struct{}), code: -1}
	t.pr, t.pw = io.Pipe()
	go t.follow()
	s.mu.Lock()
	if s.terms == nil {
		s.terms = map[*terminal]struct{}{}
	}
	s.terms[t] = struct{}{}
	s.mu.Unlock()
	if s.gone.Load() {
		t.Close()
		return nil, computemw.Errorf(computemw.CodeNotFound, "sandbox %s is destroyed", s.id)
	}
	return t, nil
}

// redact removes a secret from a message.
func redact(msg, secret string) string {
	if secret == "" {
		return msg
	}
	return strings.ReplaceAll(msg, secret, "REDACTED")
}

// terminal is one pseudo-terminal of a sandbox.
type terminal struct {
	s      *Sandbox
	conn   *websocket.Conn
	life   context.Context
	cancel context.CancelFunc
	pr     *io.PipeReader
	pw     *io.PipeWriter

	wmu      sync.Mutex // one writer of frames at a time
	done     chan struct{}
	code     int
	err      error
	closing  atomic.Bool
	closeOne sync.Once
}

// killedCode is the exit code of a program ended by Close.
const killedCode = 128 + 9

// follow reads the server's frames until the exit frame or the end of the
// connection.
func (t *terminal) follow() {
	defer close(t.done)
	defer t.conn.CloseNow()
	exited := false
	for {
		typ, data, err := t.conn.Read(t.life)
		if err != nil {
			switch {
			case exited:
			case t.closing.Load():
				t.code = killedCode
			default:
				t.err = &computemw.Error{Code: computemw.CodeUnavailable, Message: "provider vercel lost the terminal", Err: err}
			}
			t.pw.Close()
			return
		}
		if typ == websocket.MessageBinary {
			if _, err := t.pw.Write(data); err != nil && !t.closing.Load() {
				continue // nobody reads: drain
			}
			continue
		}
		var m struct {
			Type string `json:"type"`
			Code *int   `json:"code"`
		}
		if json.Unmarshal(data, &m) != nil {
			t.pw.Write(data) // a text frame that is not JSON is output, as the CLI takes it
			continue
		}
		if m.Type == "exit" {
			exited = true
			if m.Code != nil {
				t.code = *m.Code
			}
			t.pw.Close()
		}
	}
}

// Read implements computemw.Terminal: the program's output.
func (t *terminal) Read(p []byte) (int, error) { return t.pr.Read(p) }

// Write implements computemw.Terminal: typed input.
func (t *terminal) Write(p []byte) (int, error) {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	if err := t.conn.Write(t.life, websocket.MessageBinary, p); err != nil {
		return 0, classify.Call("terminal", err)
	}
	return len(p), nil
}

// Resize implements computemw.Terminal.
func (t *terminal) Resize(cols, rows uint16) error {
	msg, _ := json.Marshal(map[string]any{"type": "resize", "cols": max(cols, 1), "rows": max(rows, 1)})
	t.wmu.Lock()
	defer t.wmu.Unlock()
	if err := t.conn.Write(t.life, websocket.MessageText, msg); err != nil {
		return classify.Call("terminal", err)
	}
	return nil
}

// Wait implements computemw.Terminal: the program's exit code, once it
// has ended.
func (t *terminal) Wait() (int, error) {
	<-t.done
	return t.code, t.err
}

// Close implements computemw.Terminal: it hangs up, which ends the program,
// drops what output is left unread and waits for the connection to end.
func (t *terminal) Close() error {
	t.closeOne.Do(func() {
		t.closing.Store(true)
		t.wmu.Lock()
		t.conn.Close(websocket.StatusNormalClosure, "")
		t.wmu.Unlock()
		t.cancel()
		// Output nobody read must not hold up the end: a write to the
		// pipe fails once its reader is closed.
		t.pr.Close()
		<-t.done
		t.s.mu.Lock()
		delete(t.s.terms, t)
		t.s.mu.Unlock()
	})
	return nil
}

package computesocketio

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/internal/textstream"
)

// Why the server ends a connection on its own.
var (
	errShutdown = &computemw.Error{Code: computemw.CodeUnavailable, Message: "shutting down"}
	errLifetime = &computemw.Error{Code: computemw.CodeUnavailable, Message: "connection lifetime reached"}
)

// conn is the state of one admitted socket: its caller, its session, its
// executions and its terminal.
type conn struct {
	s      *Server
	sock   *socket.Socket
	req    *computemw.Request
	ctx    context.Context // the admitted caller; cancelled when the socket ends
	cancel context.CancelCauseFunc
	closed func() // gives the connection's place back
	out    *emitter
	runs   chan struct{} // one token per running execution

	endOnce sync.Once

	mu          sync.Mutex
	ended       bool
	lifetime    *time.Timer
	sessionID   string
	starting    bool
	term        computemw.Terminal
	termIn      *textstream.InputQueue
	termRelease func()
	inputs      map[string]*textstream.InputQueue // of runs started with openStdin, by id
	wg          sync.WaitGroup                    // executions and the terminal's pump
}

// admit is the namespace middleware: the handshake is admitted like a
// WebSocket upgrade (credentials from the handshake's auth, rate limits,
// allowed hosts and origins) and holds a place among the caller's
// connections; a refusal reaches the client as connect_error with the
// kit's message and {code}.
func (s *Server) admit(sock *socket.Socket, next func(*socket.ExtendedError)) {
	req := handshakeRequest(sock)
	ctx, cancel := context.WithCancelCause(s.base)
	ctx, err := s.api.AdmitWebSocket(ctx, req)
	var closed func()
	if err == nil {
		closed, err = s.kit.OpenConnection(ctx, computemw.OpWebSocket)
	}
	if err != nil {
		cancel(err)
		next(connectError(err))
		return
	}
	c := &conn{s: s, sock: sock, req: req, ctx: ctx, cancel: cancel, closed: closed,
		runs: make(chan struct{}, s.cfg.MaxConcurrentRuns)}
	c.out = newEmitter(c, s.io.Encoder(), s.cfg.SendWindow, s.cfg.WriteTimeout)
	if !s.track(c) {
		closed()
		cancel(errShutdown)
		next(connectError(errShutdown))
		return
	}
	sock.SetData(c)
	// The transport's close ends the connection even when the socket
	// never gets to connect.
	sock.Conn().Once("close", func(...any) { c.end(nil) })
	// Admitted: the session no longer counts among those waiting, and
	// its place among the caller's connections bounds it from now on.
	if t := ticketFrom(sock.Request().Context()); t != nil {
		t.release()
	}
	next(nil)
}

// handshakeRequest is the request the kit admits for a socket: the
// handshake's HTTP headers, with the credentials of its auth payload —
// {token} as a bearer token, {apiKey} as an API key — in Authorization.
func handshakeRequest(sock *socket.Socket) *computemw.Request {
	hr := sock.Request().Request()
	h := hr.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	auth := sock.Handshake().Auth
	if tok, _ := auth["token"].(string); tok != "" {
		h.Set("Authorization", "Bearer "+tok)
	}
	if key, _ := auth["apiKey"].(string); key != "" {
		h.Set("Authorization", "ApiKey "+key)
	}
	return &computemw.Request{Method: hr.Method, Header: h, Host: hr.Host, RemoteAddr: hr.RemoteAddr}
}

// connectError is the connect_error a refused handshake gets.
func connectError(err error) *socket.ExtendedError {
	e := computemw.AsError(err)
	return socket.NewExtendedError(publicMessage(e), map[string]any{"code": string(e.Code)})
}

// publicMessage is what a client may read of e: internal errors say
// nothing of their cause.
func publicMessage(e *computemw.Error) string {
	if e.Code == computemw.CodeInternal {
		return computemw.ErrInternal.Message
	}
	return e.Message
}

// clientEvents are the events a client may emit.
var clientEvents = map[string]bool{"start-session": true, "execute-code": true, "stdin": true, "stdin-end": true,
	"terminal-input": true, "terminal-resize": true, "end-session": true}

// truncate cuts s to at most n bytes, for messages that quote the client.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}

// serve starts handling the socket's events once it is connected.
func (c *conn) serve() {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.lifetime = time.AfterFunc(c.s.cfg.MaxLifetime, func() { c.end(errLifetime) })
	c.mu.Unlock()
	on := func(event string, h func(args []any) error) {
		_ = c.sock.On(event, func(args ...any) {
			if err := h(args); err != nil {
				c.sendError(err)
			}
		})
	}
	on("start-session", c.startSession)
	on("execute-code", c.executeCode)
	on("stdin", c.stdin)
	on("stdin-end", c.stdinEnd)
	on("terminal-input", c.terminalInput)
	on("terminal-resize", c.terminalResize)
	on("end-session", func([]any) error { return c.endSession() })
	c.sock.OnAny(func(args ...any) {
		if name, _ := args[0].(string); !clientEvents[name] {
			c.sendError(computemw.Errorf(computemw.CodeBadRequest, "unknown event %q", truncate(name, 64)))
		}
	})
	_ = c.sock.On("disconnect", func(...any) { c.end(nil) })
	if c.sock.Disconnected() { // it left before the handlers were in place
		c.end(nil)
	}
}

// admitEvent admits one event that creates or runs something, as a
// request of its own with the handshake's headers: rate limits count
// every such event, and a token that expired since the handshake is
// refused.
func (c *conn) admitEvent(op computemw.Op) (context.Context, error) {
	return c.s.kit.Admit(c.ctx, op, c.req)
}

// sendError tells the client what went wrong with an event.
func (c *conn) sendError(err error) {
	e := computemw.AsError(err)
	if e.Code == computemw.CodeInternal {
		c.s.kit.Config().Logger.ErrorContext(c.ctx, "computemw: socket.io", "requestId", computemw.RequestIDFrom(c.ctx), "error", err)
	}
	c.out.emit("error", errorEvent{Message: publicMessage(e), Code: string(e.Code)})
}

// end ends the connection once, for whatever reason: the client left,
// the transport closed, its lifetime passed, the server shuts down.
func (c *conn) end(cause error) {
	c.endOnce.Do(func() {
		c.cancel(cause)
		go c.teardown(cause)
	})
}

// teardown disconnects the socket if it is still there and closes its
// Engine.IO session, ends its terminal, destroys its session and waits for
// its executions, then gives back its place.
func (c *conn) teardown(cause error) {
	defer c.s.untrack(c)
	defer c.closed()
	if cause != nil && c.sock.Connected() {
		e := computemw.AsError(cause)
		c.out.emitNow("error", errorEvent{Message: publicMessage(e), Code: string(e.Code)})
		c.sock.Disconnect(true)
	} else {
		// The Engine.IO session ends with the socket: one whose client
		// left the namespace but kept the session open would count in no
		// books. Nothing is left to send it.
		c.sock.Conn().Close(true)
	}
	c.mu.Lock()
	c.ended = true
	id := c.sessionID
	c.sessionID = ""
	lifetime := c.lifetime
	c.mu.Unlock()
	if lifetime != nil {
		lifetime.Stop()
	}
	c.closeTerminal()
	if id != "" {
		c.destroy(id)
	}
	c.wg.Wait()
}

// destroy destroys the socket's session, whatever the state of its
// context.
func (c *conn) destroy(id string) {
	if err := c.s.kit.Sessions().Destroy(context.WithoutCancel(c.ctx), id); err != nil && !errors.Is(err, computemw.ErrNotFound) {
		c.s.kit.Config().Logger.ErrorContext(c.ctx, "computemw: socket.io: destroy session", "sandbox", id, "error", err)
	}
}

// session is the socket's session ID, or a BAD_REQUEST naming the event
// that needs one.
func (c *conn) session() (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sessionID == "" {
		return "", computemw.Errorf(computemw.CodeBadRequest, "No active session")
	}
	return c.sessionID, nil
}

// goRun runs fn on a goroutine the teardown waits for, unless the
// connection has ended.
func (c *conn) goRun(fn func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return false
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		fn()
	}()
	return true
}

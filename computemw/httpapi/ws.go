package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/internal/textstream"
)

// Conn is a WebSocket connection as the kit needs it. Adapters wrap their
// WebSocket library's connection in it (text frames only); the protocol
// itself lives once, in [API.ServeConn].
type Conn interface {
	// Read blocks until the next message or an error (closed connection).
	Read(ctx context.Context) ([]byte, error)
	// Write sends one text message.
	Write(ctx context.Context, msg []byte) error
	// Ping sends a ping and waits for the pong.
	Ping(ctx context.Context) error
	// Close closes the connection with a WebSocket status code and reason.
	Close(code int, reason string) error
}

// WebSocket close codes used by the kit.
const (
	CloseNormal      = 1000
	ClosePolicy      = 1008 // stalled or misbehaving client
	CloseInternalErr = 1011
)

// WSMessage is one JSON message of the WebSocket protocol, both ways.
type WSMessage struct {
	Type string `json:"type"`
	// create-sandbox
	Provider string `json:"provider,omitempty"`
	Template string `json:"template,omitempty"`
	// execute: Code is the program; error: Code is the error code
	Command  string `json:"command,omitempty"`
	Language string `json:"language,omitempty"`
	Code     string `json:"code,omitempty"`
	// execute: the program's arguments (no shell reads them)
	Args []string `json:"args,omitempty"`
	// execute: the language's version, allowed compiler flags, the
	// compile's own limit (ms), and stderr merged into stdout
	Version        string   `json:"version,omitempty"`
	CompileOptions []string `json:"compileOptions,omitempty"`
	CompileTimeout *float64 `json:"compileTimeout,omitempty"`
	MergeStderr    bool     `json:"mergeStderr,omitempty"`
	// execute: the whole standard input, as on POST /execute (the input
	// ends after it); without it the input stays open for stdin messages
	// until stdin-end
	Stdin *string `json:"stdin,omitempty"`
	// execute: the wall-clock limit in milliseconds (the kit's default and
	// maximum apply) and environment variables, as on POST /execute
	Timeout *float64          `json:"timeout,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
	// stdin, terminal-input, output, terminal-output
	Data string `json:"data,omitempty"`
	// terminal-start, terminal-resize
	Cols uint16 `json:"cols,omitempty"`
	Rows uint16 `json:"rows,omitempty"`
	// server: sandbox-ready, output, execution-complete, error;
	// create-sandbox: SandboxID attaches to the caller's session instead
	SandboxID string `json:"sandboxId,omitempty"`
	Stream    string `json:"stream,omitempty"`
	ExitCode  *int   `json:"exitCode,omitempty"`
	Message   string `json:"message,omitempty"`
	// context-*: the code context (ws_contexts.go)
	ContextID      string                    `json:"contextId,omitempty"`
	Results        []computemw.DisplayData   `json:"results,omitempty"`
	ExecutionError *computemw.ExecutionError `json:"executionError,omitempty"`
}

// AdmitWebSocket runs the policies for a WebSocket upgrade, before it
// happens, so that a refused client gets a plain HTTP error (401, 429 ...).
// Adapters call it, upgrade on success, then call [API.ServeConn] with the
// returned context.
//
// r.Header is kept for the connection's life: every message that creates
// or runs something is admitted with it (a policy reads the upgrade
// request's headers there). Adapters whose framework reuses request
// memory (Fiber) pass a copy.
func (k *API) AdmitWebSocket(ctx context.Context, r *computemw.Request) (context.Context, error) {
	ctx, err := k.kit.Admit(ctx, computemw.OpWebSocket, r)
	if err != nil {
		return ctx, err
	}
	up := upgrade{h: http.Header{}}
	if r != nil {
		up.addr = r.RemoteAddr
		if r.Header != nil {
			up.h = r.Header
		}
	}
	return context.WithValue(ctx, upgradeKey{}, up), nil
}

// upgrade is what a connection keeps of its upgrade request: the headers
// and the client's address its messages are admitted with.
type upgrade struct {
	h    computemw.Header
	addr string
}

// upgradeKey carries a connection's upgrade in its context.
type upgradeKey struct{}

// admitMessage runs the policies for one message that creates a sandbox,
// runs code or opens a terminal, as for a request of its own: rate limits
// count every such message, not only the upgrade, and a quota reserves
// each execution separately. The caller was authenticated at the upgrade
// (its principal is in s.ctx).
func (s *wsSession) admitMessage(op computemw.Op) (context.Context, error) {
	up, _ := s.ctx.Value(upgradeKey{}).(upgrade)
	return s.k.kit.Admit(s.ctx, op, &computemw.Request{Method: "WS", Header: up.h, RemoteAddr: up.addr})
}

// wsSession is the state of one WebSocket connection.
type wsSession struct {
	k      *API
	conn   Conn
	cfg    computemw.WSConfig
	ctx    context.Context
	cancel context.CancelCauseFunc
	out    chan []byte
	inbox  chan *WSMessage // read, waiting to be handled

	idle *time.Timer

	mu      sync.Mutex
	sb      computemw.Sandbox
	release func()
	stdin   *textstream.InputQueue // of the running execution
	inEnded bool                   // its input has ended (stdin-end, or stdin on execute)
	termIn  *textstream.InputQueue // of the open terminal
	running bool
	term    computemw.Terminal
	wg      sync.WaitGroup // executions and terminal pumps
}

// ServeConn runs the WebSocket protocol on conn until the client closes it,
// stalls, or the kit shuts down. It owns the sandbox the client creates and
// destroys it when the connection ends, however it ends. It blocks; call it
// on the upgraded connection's goroutine with the context returned by
// [API.AdmitWebSocket].
func (k *API) ServeConn(ctx context.Context, conn Conn) error {
	cfg := k.cfg.WebSocket
	closeConn, err := k.kit.OpenConnection(ctx, computemw.OpWebSocket)
	if err != nil {
		e := computemw.AsError(err)
		b, _ := json.Marshal(WSMessage{Type: "error", Message: e.Message, Code: string(e.Code)})
		wctx, cancel := context.WithTimeout(ctx, cfg.WriteTimeout)
		_ = conn.Write(wctx, b)
		cancel()
		_ = conn.Close(ClosePolicy, e.Message)
		return err
	}
	defer closeConn()
	ctx, cancel := context.WithCancelCause(ctx)
	s := &wsSession{k: k, conn: conn, cfg: cfg, ctx: ctx, cancel: cancel, out: make(chan []byte, cfg.SendQueue),
		inbox: make(chan *WSMessage, inboxSize)}
	var writer, handler sync.WaitGroup
	writer.Go(s.writeLoop)
	handler.Go(s.handleLoop)
	lifetime := time.AfterFunc(cfg.MaxLifetime, func() {
		s.fail(errLifetime, ClosePolicy)
	})
	defer lifetime.Stop()
	s.idle = time.AfterFunc(cfg.IdleTimeout, s.idleCheck)
	defer s.idle.Stop()
	err = s.readLoop()
	cancel(err)
	handler.Wait() // no message is handled after this: nothing is created
	s.mu.Lock()
	running := s.running
	s.mu.Unlock()
	s.teardown()
	writer.Wait()
	if e, ok := err.(*computemw.Error); ok && e.Code == computemw.CodeClientClosed {
		// Logged once, here, at Info: what it stopped is not an error.
		s.k.log.InfoContext(ctx, "computemw: websocket client left", "requestId", computemw.RequestIDFrom(ctx), "running", running, "reason", e.Err)
		return nil
	}
	if errors.Is(err, io.EOF) || errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Why the kit closes a connection on its own.
var (
	errLifetime = &computemw.Error{Code: computemw.CodeUnavailable, Message: "connection lifetime reached"}
	errIdle     = &computemw.Error{Code: computemw.CodeUnavailable, Message: "connection idle"}
)

// idleCheck closes the connection once its client has been silent for
// IdleTimeout while nothing runs; with something running it waits again.
func (s *wsSession) idleCheck() {
	s.mu.Lock()
	busy := s.running || s.term != nil
	s.mu.Unlock()
	if busy {
		s.idle.Reset(s.cfg.IdleTimeout)
		return
	}
	s.fail(errIdle, ClosePolicy)
}

// readLoop handles client messages until the connection fails.
func (s *wsSession) readLoop() error {
	for {
		msg, err := s.conn.Read(s.ctx)
		if err != nil {
			if cause := context.Cause(s.ctx); cause != nil && !errors.Is(cause, context.Canceled) {
				return cause
			}
			if s.ctx.Err() != nil {
				return err
			}
			// The client closed the connection or it broke: the client's
			// doing, so what it stops ends as CLIENT_CLOSED.
			return &computemw.Error{Code: computemw.CodeClientClosed, Message: "websocket client left", Err: err}
		}
		s.idle.Reset(s.cfg.IdleTimeout)
		if len(msg) > s.cfg.MaxMessageBytes {
			s.sendError(computemw.Errorf(computemw.CodeBadRequest, "message exceeds %d bytes", s.cfg.MaxMessageBytes))
			continue
		}
		var m WSMessage
		if err := s.decode(msg, &m); err != nil {
			s.sendError(err)
			continue
		}
		// Handled in order on their own goroutine, so that reading goes
		// on (and with it the answers to pings) while a sandbox is made
		// or waits for a slot. A client that sends faster than its
		// messages are handled waits here.
		select {
		case s.inbox <- &m:
		case <-s.ctx.Done():
			return context.Cause(s.ctx)
		}
	}
}

// decode reads one client message: malformed JSON, and an unknown field
// unless Config.AllowUnknownFields, are a BAD_REQUEST.
func (s *wsSession) decode(msg []byte, m *WSMessage) error {
	dec := json.NewDecoder(bytes.NewReader(msg))
	if !s.k.cfg.AllowUnknownFields {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(m); err != nil {
		if strings.HasPrefix(err.Error(), unknownFieldPrefix) {
			return unknownField(err)
		}
		return computemw.Errorf(computemw.CodeBadRequest, "malformed JSON message")
	}
	return nil
}

// handleLoop handles the client's messages in the order they came, until
// the read loop ends.
func (s *wsSession) handleLoop() {
	for {
		select {
		case m := <-s.inbox:
			if err := s.handle(m); err != nil {
				s.sendError(err)
			}
		case <-s.ctx.Done():
			return
		}
	}
}

// inboxSize is how many messages may wait to be handled.
const inboxSize = 64

// writeLoop sends queued messages, and pings when idle. A client that
// stalls past WriteTimeout is disconnected.
func (s *wsSession) writeLoop() {
	ping := time.NewTicker(s.cfg.PingInterval)
	defer ping.Stop()
	for {
		select {
		case <-s.ctx.Done():
			s.flush()
			return
		case msg := <-s.out:
			if err := s.write(msg); err != nil {
				s.fail(fmt.Errorf("computemw: websocket client stalled or gone: %w", err), ClosePolicy)
				return
			}
		case <-ping.C:
			pctx, cancel := context.WithTimeout(s.ctx, s.cfg.WriteTimeout)
			err := s.conn.Ping(pctx)
			cancel()
			if err != nil && s.ctx.Err() == nil {
				s.fail(fmt.Errorf("computemw: websocket ping: %w", err), ClosePolicy)
				return
			}
		}
	}
}

func (s *wsSession) write(msg []byte) error {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), s.cfg.WriteTimeout)
	defer cancel()
	return s.conn.Write(wctx, msg)
}

// flush sends what is queued (the last output, a final error) before the
// connection closes, each write bounded by WriteTimeout.
func (s *wsSession) flush() {
	for {
		select {
		case msg := <-s.out:
			if s.write(msg) != nil {
				return
			}
		default:
			return
		}
	}
}

func (s *wsSession) fail(err error, code int) {
	s.cancel(err)
	reason := ""
	if e, ok := err.(*computemw.Error); ok {
		reason = e.Message
	}
	_ = s.conn.Close(code, reason)
}

// send queues a message; it waits while the queue is full (backpressure)
// and gives up when the connection ends.
func (s *wsSession) send(m WSMessage) {
	b, err := json.Marshal(m)
	if err != nil {
		return
	}
	select {
	case s.out <- b:
	case <-s.ctx.Done():
	}
}

func (s *wsSession) sendError(err error) {
	e := computemw.AsError(err)
	msg := e.Message
	if e.Code == computemw.CodeInternal {
		s.k.log.ErrorContext(s.ctx, "computemw: websocket", "requestId", computemw.RequestIDFrom(s.ctx), "error", err)
		msg = computemw.ErrInternal.Message
	}
	s.send(WSMessage{Type: "error", Message: msg, Code: string(e.Code)})
}

func (s *wsSession) handle(m *WSMessage) error {
	switch m.Type {
	case "create-sandbox":
		if m.SandboxID != "" {
			return s.attach(m)
		}
		return s.create(m)
	case "execute":
		return s.execute(m)
	case "stdin":
		return s.writeStdin(m.Data)
	case "stdin-end":
		return s.endStdin()
	case "terminal-start":
		return s.startTerminal(m)
	case "terminal-input":
		return s.terminalInput(m.Data)
	case "terminal-resize":
		return s.resize(m)
	case "destroy-sandbox":
		s.destroy()
		return nil
	case "context-create", "context-execute", "context-interrupt", "context-restart", "context-delete":
		return s.handleContext(m)
	case "":
		return computemw.Errorf(computemw.CodeBadRequest, "message has no type")
	default:
		return computemw.Errorf(computemw.CodeBadRequest, "unknown message type %q", m.Type)
	}
}

func (s *wsSession) create(m *WSMessage) error {
	s.mu.Lock()
	has := s.sb != nil
	s.mu.Unlock()
	if has {
		return computemw.Errorf(computemw.CodeBadRequest, "a sandbox is already active on this connection")
	}
	ctx, err := s.admitMessage(computemw.OpWebSocket)
	if err != nil {
		return err
	}
	// The sandbox lives as long as the connection, not this message, and
	// counts in the same books as sessions: the total cap and the
	// caller's own.
	g, release, err := s.k.kit.Hold(ctx, m.Provider, computemw.CreateOptions{Template: m.Template})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.sb, s.release = g, release
	s.mu.Unlock()
	s.send(WSMessage{Type: "sandbox-ready", SandboxID: g.ID(), Provider: g.Provider()})
	return nil
}

func (s *wsSession) sandbox() (computemw.Sandbox, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sb == nil {
		return nil, computemw.Errorf(computemw.CodeBadRequest, "No active sandbox")
	}
	return s.sb, nil
}

// execute starts a command or a program; its output streams as it is
// produced, then execution-complete. One at a time per connection.
func (s *wsSession) execute(m *WSMessage) error {
	sb, err := s.sandbox()
	if err != nil {
		return err
	}
	if m.Command == "" && (m.Language == "" || m.Code == "") {
		return computemw.Errorf(computemw.CodeBadRequest, "execute needs a command, or a language and code")
	}
	if err := validateArgs(m.Command, m.Args); err != nil {
		return err
	}
	compileTimeout, err := s.k.compileTimeoutFrom(m.CompileTimeout)
	if err != nil {
		return err
	}
	var timeout time.Duration
	if m.Timeout != nil {
		if timeout, err = s.k.timeoutFrom(m.Timeout); err != nil {
			return err
		}
	}
	op := computemw.OpExec
	if m.Command == "" {
		op = computemw.OpExecute
	}
	s.mu.Lock()
	if s.running { // only this read loop starts executions
		s.mu.Unlock()
		return computemw.Errorf(computemw.CodeBadRequest, "an execution is already running on this connection")
	}
	s.running = true
	s.mu.Unlock()
	ctx, err := s.admitMessage(op)
	if err != nil {
		s.mu.Lock()
		s.running = false
		s.mu.Unlock()
		return err
	}
	stdinR, stdinW := io.Pipe()
	stdin := textstream.NewInputQueue(stdinW, inputBacklog)
	if m.Stdin != nil {
		// The whole input, as on POST /execute: it ends after this.
		if *m.Stdin != "" {
			if err := pushInput(stdin, *m.Stdin); err != nil {
				stdin.Close()
				s.mu.Lock()
				s.running = false
				s.mu.Unlock()
				return err
			}
		}
		stdin.End()
	}
	s.mu.Lock()
	s.stdin, s.inEnded = stdin, m.Stdin != nil
	s.wg.Add(1)
	s.mu.Unlock()

	go func() {
		defer s.wg.Done()
		opts := computemw.ExecOptions{
			Args:           m.Args,
			Env:            m.Env,
			Timeout:        timeout,
			Version:        m.Version,
			CompileOptions: m.CompileOptions,
			CompileTimeout: compileTimeout,
			MergeStderr:    m.MergeStderr,
			Stdin:          stdinR,
			Stdout:         &streamWriter{s: s, stream: "stdout"},
			Stderr:         &streamWriter{s: s, stream: "stderr"},
		}
		var (
			res *computemw.Result
			err error
		)
		if m.Command != "" {
			res, err = sb.Exec(ctx, m.Command, opts)
		} else {
			res, err = sb.RunCode(ctx, m.Language, m.Code, opts)
		}
		stdinR.Close()
		stdin.Close()
		opts.Stdout.(*streamWriter).flush()
		opts.Stderr.(*streamWriter).flush()
		s.mu.Lock()
		s.running, s.stdin, s.inEnded = false, nil, false
		s.mu.Unlock()
		if err != nil && s.ctx.Err() == nil {
			s.sendError(err)
		}
		if res != nil {
			code := res.ExitCode
			s.send(WSMessage{Type: "execution-complete", ExitCode: &code})
		}
	}()
	return nil
}

func (s *wsSession) writeStdin(data string) error {
	s.mu.Lock()
	q, ended := s.stdin, s.inEnded
	s.mu.Unlock()
	if q == nil {
		return computemw.Errorf(computemw.CodeBadRequest, "no execution is running")
	}
	if ended {
		return errInputEnded
	}
	return pushInput(q, data)
}

// errInputEnded refuses input after the program's input has ended.
var errInputEnded = &computemw.Error{Code: computemw.CodeBadRequest, Message: "the program's input has ended"}

// endStdin ends the running program's input once what was sent before
// has reached it: a program reading to the end of its input finishes.
func (s *wsSession) endStdin() error {
	s.mu.Lock()
	q, ended := s.stdin, s.inEnded
	s.inEnded = q != nil
	s.mu.Unlock()
	if q == nil {
		return computemw.Errorf(computemw.CodeBadRequest, "no execution is running")
	}
	if ended {
		return errInputEnded
	}
	if q.End() != nil {
		return computemw.Errorf(computemw.CodeBadRequest, "the program has ended")
	}
	return nil
}

func (s *wsSession) startTerminal(m *WSMessage) error {
	sb, err := s.sandbox()
	if err != nil {
		return err
	}
	to, ok := sb.(computemw.TerminalOpener)
	if !ok {
		return computemw.Unsupported(sb.Provider(), "terminals")
	}
	s.mu.Lock()
	open := s.term != nil
	s.mu.Unlock()
	if open {
		return computemw.Errorf(computemw.CodeBadRequest, "a terminal is already open on this connection")
	}
	ctx, err := s.admitMessage(computemw.OpTerminal)
	if err != nil {
		return err
	}
	cols, rows := m.Cols, m.Rows
	if cols == 0 {
		cols = 80
	}
	if rows == 0 {
		rows = 24
	}
	// A governed terminal: authorized, ended at its time limit (the
	// caller's role may lower it), and charged when it ends.
	term, err := to.OpenTerminal(ctx, computemw.TerminalOptions{Command: m.Command, Cols: cols, Rows: rows})
	if err != nil {
		return err
	}
	input := textstream.NewInputQueue(term, inputBacklog)
	s.mu.Lock()
	s.term, s.termIn = term, input
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		w := &streamWriter{s: s, stream: "terminal"}
		_, _ = io.Copy(w, term)
		w.flush()
		code, err := term.Wait()
		s.mu.Lock()
		s.term, s.termIn = nil, nil
		s.mu.Unlock()
		input.Close()
		if err != nil && s.ctx.Err() == nil {
			s.sendError(err)
		}
		s.send(WSMessage{Type: "terminal-exit", ExitCode: &code})
	}()
	return nil
}

func (s *wsSession) terminal() (computemw.Terminal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.term == nil {
		return nil, computemw.Errorf(computemw.CodeBadRequest, "no terminal is open")
	}
	return s.term, nil
}

func (s *wsSession) terminalInput(data string) error {
	s.mu.Lock()
	q := s.termIn
	s.mu.Unlock()
	if q == nil {
		return computemw.Errorf(computemw.CodeBadRequest, "no terminal is open")
	}
	return pushInput(q, data)
}

func (s *wsSession) resize(m *WSMessage) error {
	t, err := s.terminal()
	if err != nil {
		return err
	}
	if m.Cols == 0 || m.Rows == 0 {
		return computemw.Errorf(computemw.CodeBadRequest, "terminal-resize needs cols and rows")
	}
	return t.Resize(m.Cols, m.Rows)
}

// destroy ends the terminal and any execution, and destroys the sandbox.
func (s *wsSession) destroy() {
	s.mu.Lock()
	release, term := s.release, s.term
	s.sb, s.release = nil, nil
	s.mu.Unlock()
	if term != nil {
		term.Close()
	}
	if release != nil {
		release() // kills what still runs in it
	}
	s.wg.Wait()
}

// teardown runs when the connection ends, however it ends.
func (s *wsSession) teardown() {
	s.destroy()
	_ = s.conn.Close(CloseNormal, "")
}

// streamWriter turns output into output (or terminal-output) messages,
// keeping multi-byte characters whole across chunks.
type streamWriter struct {
	s      *wsSession
	stream string
	chunk  textstream.UTF8Chunker
}

func (w *streamWriter) Write(p []byte) (int, error) {
	if err := w.s.ctx.Err(); err != nil {
		return 0, err
	}
	if text := w.chunk.Next(p); text != "" {
		w.emit(text)
	}
	return len(p), w.s.ctx.Err()
}

func (w *streamWriter) flush() {
	if text := w.chunk.Rest(); text != "" {
		w.emit(text)
	}
}

func (w *streamWriter) emit(data string) {
	if w.stream == "terminal" {
		w.s.send(WSMessage{Type: "terminal-output", Data: data})
		return
	}
	w.s.send(WSMessage{Type: "output", Stream: w.stream, Data: data})
}

// inputBacklog is how many input messages may wait for a program that is
// not reading.
const inputBacklog = 64

// pushInput queues a client's input for the program, in the words of this
// API when it is refused.
func pushInput(q *textstream.InputQueue, data string) error {
	switch err := q.Push(data); {
	case errors.Is(err, textstream.ErrClosed):
		return computemw.Errorf(computemw.CodeBadRequest, "the program has ended")
	case errors.Is(err, textstream.ErrFull):
		return computemw.Errorf(computemw.CodeBadRequest, "input refused: the program is not reading it")
	default:
		return err
	}
}

// validateArgs checks an execute message's arguments before the message
// is admitted, with the kit's rule (which the kit applies again): only for
// a program (a command line takes its arguments in itself), at most
// computemw.MaxArgs of them in computemw.MaxArgsBytes, none holding a NUL
// byte.
func validateArgs(command string, args []string) error {
	if len(args) > 0 && command != "" {
		return computemw.Errorf(computemw.CodeBadRequest, "args are for a program (language and code), not a command")
	}
	if len(args) > computemw.MaxArgs {
		return computemw.Errorf(computemw.CodeBadRequest, "args: more than %d arguments", computemw.MaxArgs)
	}
	size := 0
	for i, a := range args {
		if strings.IndexByte(a, 0) >= 0 {
			return computemw.Errorf(computemw.CodeBadRequest, "args: argument %d contains a NUL byte", i)
		}
		size += len(a) + 1
	}
	if size > computemw.MaxArgsBytes {
		return computemw.Errorf(computemw.CodeBadRequest, "args: more than %d bytes in all", computemw.MaxArgsBytes)
	}
	return nil
}

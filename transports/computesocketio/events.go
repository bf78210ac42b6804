package computesocketio

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"time"

	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/computemw/kit/computemw"
)

// startSessionEvent is the payload of start-session.
type startSessionEvent struct {
	Provider string `json:"provider"`
	Template string `json:"template"`
}

// sessionEvent is the payload of session-started and session-ended.
type sessionEvent struct {
	SandboxID string `json:"sandboxId"`
	Provider  string `json:"provider,omitempty"`
}

// executeEvent is the payload of execute-code: a program (language and
// code) or a command line; ID is echoed in the events the run produces.
type executeEvent struct {
	ID       string            `json:"id"`
	Language string            `json:"language"`
	Code     string            `json:"code"`
	Command  string            `json:"command"`
	Stdin    string            `json:"stdin"`
	Timeout  *float64          `json:"timeout"` // milliseconds
	Env      map[string]string `json:"env"`
	Args     []string          `json:"args"`
	// OpenStdin keeps the program's input open for stdin events (after
	// Stdin, if any) until stdin-end.
	OpenStdin bool `json:"openStdin"`
}

// outputEvent is execution-output (stream stdout or stderr) and
// terminal-output (no stream).
type outputEvent struct {
	ID     string `json:"id,omitempty"`
	Stream string `json:"stream,omitempty"`
	Data   string `json:"data"`
}

// resultEvent is execution-result.
type resultEvent struct {
	ID            string `json:"id,omitempty"`
	Output        string `json:"output"`
	Stderr        string `json:"stderr"`
	Success       bool   `json:"success"`
	ExitCode      int    `json:"exitCode"`
	ExecutionTime int64  `json:"executionTime"` // milliseconds
	Truncated     bool   `json:"truncated"`
	SandboxID     string `json:"sandboxId"`
}

// errorEvent is error and execution-error; a run stopped by a limit
// carries its partial output.
type errorEvent struct {
	ID      string `json:"id,omitempty"`
	Message string `json:"message"`
	Code    string `json:"code"`
	Output  string `json:"output,omitempty"`
	Stderr  string `json:"stderr,omitempty"`
}

// terminalEvent is terminal-input and terminal-resize.
type terminalEvent struct {
	Data string `json:"data"`
	Cols uint16 `json:"cols"`
	Rows uint16 `json:"rows"`
}

// exitEvent is terminal-exit.
type exitEvent struct {
	ExitCode int `json:"exitCode"`
}

// decode reads an event's first argument into v, as the routes read a
// body: at most limit bytes of JSON, 400 BAD_REQUEST for a wrong shape. A
// missing argument leaves v as it is. It returns the client's
// acknowledgement callback, if it sent one.
func (c *conn) decode(args []any, v any) (socket.Ack, error) {
	limit := c.s.cfg.MaxMessageBytes
	var ack socket.Ack
	if n := len(args); n > 0 {
		if a, ok := args[n-1].(socket.Ack); ok {
			ack, args = a, args[:n-1]
		}
	}
	if len(args) == 0 || args[0] == nil {
		return ack, nil
	}
	b, err := json.Marshal(args[0])
	if err != nil {
		return ack, computemw.Errorf(computemw.CodeBadRequest, "malformed event payload")
	}
	if err := c.s.api.DecodeJSON(bytes.NewReader(b), int64(limit), v); err != nil {
		return ack, err
	}
	return ack, nil
}

// reply sends an event's answer, and acknowledges the event with it when
// the client asked for that.
func (c *conn) reply(ack socket.Ack, event string, payload any) {
	c.out.emit(event, payload)
	if ack != nil {
		ack([]any{payload}, nil)
	}
}

// startSession creates the socket's session through the kit: one per
// socket, owned by the caller, with the caller's ID and plan recorded as
// the sandbox's metadata.
func (c *conn) startSession(args []any) error {
	var m startSessionEvent
	ack, err := c.decode(args, &m)
	if err != nil {
		return err
	}
	c.mu.Lock()
	busy := c.sessionID != "" || c.starting
	c.starting = !busy
	c.mu.Unlock()
	if busy {
		return computemw.Errorf(computemw.CodeBadRequest, "a session is already active on this socket")
	}
	defer func() {
		c.mu.Lock()
		c.starting = false
		c.mu.Unlock()
	}()
	ctx, err := c.admitEvent(computemw.OpSessions)
	if err != nil {
		return err
	}
	info, err := c.s.kit.Sessions().Create(ctx, computemw.SessionOptions{Provider: m.Provider, Template: m.Template,
		TTL: c.s.cfg.SessionTTL, Metadata: c.metadata(ctx)})
	if err != nil {
		return err
	}
	c.mu.Lock()
	ended := c.ended
	if !ended {
		c.sessionID = info.SandboxID
	}
	c.mu.Unlock()
	if ended { // the socket left while the sandbox was being made
		c.destroy(info.SandboxID)
		return nil
	}
	c.reply(ack, "session-started", sessionEvent{SandboxID: info.SandboxID, Provider: info.Provider})
	return nil
}

// metadata is what the sandbox records of its creator.
func (c *conn) metadata(ctx context.Context) map[string]string {
	md := map[string]string{"transport": "socket.io", "socketId": string(c.sock.Id())}
	if p, ok := computemw.PrincipalFrom(ctx); ok {
		if p.ID != "" {
			md["userId"] = p.ID
		}
		if p.Plan != "" {
			md["plan"] = p.Plan
		}
	}
	return md
}

// endSession destroys the socket's session; the socket stays connected
// and may start another.
func (c *conn) endSession() error {
	id, err := c.session()
	if err != nil {
		return err
	}
	c.closeTerminal()
	c.mu.Lock()
	if c.sessionID == id {
		c.sessionID = ""
	}
	c.mu.Unlock()
	c.destroy(id)
	c.out.emit("session-ended", sessionEvent{SandboxID: id})
	return nil
}

// executeCode runs a program or a command in the socket's session with
// [computemw.Kit.Execute]; its output streams as execution-output, then
// execution-result, or execution-error when it could not run or was
// stopped by a limit.
func (c *conn) executeCode(args []any) error {
	var m executeEvent
	ack, err := c.decode(args, &m)
	if err != nil {
		return err
	}
	id, err := c.session()
	if err != nil {
		return err
	}
	run := computemw.Run{SandboxID: id, Language: m.Language, Code: m.Code, Command: m.Command, Env: m.Env, Args: m.Args}
	if m.Timeout != nil {
		if *m.Timeout <= 0 || *m.Timeout != *m.Timeout {
			return computemw.Errorf(computemw.CodeBadRequest, "field \"timeout\" must be a positive number of milliseconds")
		}
		run.Timeout = time.Duration(*m.Timeout * float64(time.Millisecond))
	}
	if m.Stdin != "" {
		run.Stdin = strings.NewReader(m.Stdin)
	}
	select {
	case c.runs <- struct{}{}:
	default:
		return computemw.Errorf(computemw.CodeBadRequest, "at most %d executions at once on a socket", cap(c.runs))
	}
	op := computemw.OpExecute
	if m.Command != "" {
		op = computemw.OpExec
	}
	ctx, err := c.admitEvent(op)
	if err != nil {
		<-c.runs
		return err
	}
	inputDone := func() {}
	if m.OpenStdin {
		in, done, err := c.openInput(m.ID)
		if err != nil {
			<-c.runs
			return err
		}
		if m.Stdin != "" {
			in = io.MultiReader(run.Stdin, in)
		}
		run.Stdin, inputDone = in, done
	}
	stdout := &streamWriter{c: c, event: "execution-output", id: m.ID, stream: "stdout"}
	stderr := &streamWriter{c: c, event: "execution-output", id: m.ID, stream: "stderr"}
	run.Stdout, run.Stderr = stdout, stderr
	started := c.goRun(func() {
		defer func() { <-c.runs }()
		res, err := c.s.kit.Execute(ctx, run)
		inputDone()
		stdout.flush()
		stderr.flush()
		if err != nil {
			e := computemw.AsError(err)
			if e.Code == computemw.CodeInternal {
				c.s.kit.Config().Logger.ErrorContext(ctx, "computemw: socket.io: execute", "requestId", computemw.RequestIDFrom(ctx), "error", err)
			}
			ev := errorEvent{ID: m.ID, Message: publicMessage(e), Code: string(e.Code)}
			if res != nil {
				ev.Output, ev.Stderr = res.Stdout, res.Stderr
			}
			c.reply(ack, "execution-error", ev)
			return
		}
		c.reply(ack, "execution-result", resultEvent{ID: m.ID, Output: res.Stdout, Stderr: res.Stderr,
			Success: res.ExitCode == 0, ExitCode: res.ExitCode, ExecutionTime: res.ExecutionTime.Milliseconds(),
			Truncated: res.Truncated, SandboxID: res.SandboxID})
	})
	if !started {
		inputDone()
		<-c.runs
	}
	return nil
}

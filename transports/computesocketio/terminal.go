package computesocketio

import (
	"errors"
	"io"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/internal/textstream"
)

// terminalInput types into the session's terminal, opening it (a shell)
// on first use. The payload is {data} or a plain string.
func (c *conn) terminalInput(args []any) error {
	var m terminalEvent
	if len(args) > 0 {
		if s, ok := args[0].(string); ok {
			if len(s) > c.s.cfg.MaxMessageBytes {
				return computemw.Errorf(computemw.CodeBadRequest, "terminal input exceeds %d bytes", c.s.cfg.MaxMessageBytes)
			}
			m.Data = s
		} else if _, err := c.decode(args, &m); err != nil {
			return err
		}
	}
	c.mu.Lock()
	q := c.termIn
	c.mu.Unlock()
	if q == nil {
		var err error
		if q, err = c.openTerminal(); err != nil {
			return err
		}
	}
	return pushKeys(q, m.Data)
}

// terminalResize changes the open terminal's window size.
func (c *conn) terminalResize(args []any) error {
	var m terminalEvent
	if _, err := c.decode(args, &m); err != nil {
		return err
	}
	if m.Cols == 0 || m.Rows == 0 {
		return computemw.Errorf(computemw.CodeBadRequest, "terminal-resize needs cols and rows")
	}
	c.mu.Lock()
	t := c.term
	c.mu.Unlock()
	if t == nil {
		return computemw.Errorf(computemw.CodeBadRequest, "no terminal is open")
	}
	return t.Resize(m.Cols, m.Rows)
}

// openTerminal opens a governed terminal on the session's sandbox: it is
// authorized as a terminal of its own, ended at its time limit, and
// charged when it ends. Its output streams as terminal-output, its end
// as terminal-exit.
func (c *conn) openTerminal() (*textstream.InputQueue, error) {
	id, err := c.session()
	if err != nil {
		return nil, err
	}
	ctx, err := c.admitEvent(computemw.OpTerminal)
	if err != nil {
		return nil, err
	}
	sb, release, err := c.s.kit.Sessions().Sandbox(ctx, id)
	if err != nil {
		return nil, err
	}
	to, ok := sb.(computemw.TerminalOpener)
	if !ok {
		release()
		return nil, computemw.Unsupported(sb.Provider(), "terminals")
	}
	term, err := to.OpenTerminal(ctx, computemw.TerminalOptions{Cols: 80, Rows: 24})
	if err != nil {
		release()
		return nil, err
	}
	q := textstream.NewInputQueue(term, inputBacklog)
	c.mu.Lock()
	c.term, c.termIn, c.termRelease = term, q, release
	c.mu.Unlock()
	started := c.goRun(func() {
		w := &streamWriter{c: c, event: "terminal-output"}
		_, _ = io.Copy(w, term)
		w.flush()
		code, err := term.Wait()
		q.Close()
		c.mu.Lock()
		var rel func()
		if c.term == term {
			c.term, c.termIn, rel, c.termRelease = nil, nil, c.termRelease, nil
		}
		c.mu.Unlock()
		if rel != nil {
			rel()
		}
		if err != nil && c.ctx.Err() == nil {
			c.sendError(err)
		}
		c.out.emit("terminal-exit", exitEvent{ExitCode: code})
	})
	if !started { // the socket ended meanwhile
		_ = term.Close()
		q.Close()
		release()
		return nil, errShutdown
	}
	return q, nil
}

// closeTerminal ends the open terminal, if any; its pump reports the end.
func (c *conn) closeTerminal() {
	c.mu.Lock()
	t := c.term
	c.mu.Unlock()
	if t != nil {
		_ = t.Close()
	}
}

// inputBacklog is how many inputs may wait for a terminal that is not
// reading.
const inputBacklog = 64

// pushKeys queues a client's keys for the terminal, in the words of this
// transport when they are refused.
func pushKeys(q *textstream.InputQueue, data string) error {
	switch err := q.Push(data); {
	case errors.Is(err, textstream.ErrClosed):
		return computemw.Errorf(computemw.CodeBadRequest, "the terminal has ended")
	case errors.Is(err, textstream.ErrFull):
		return computemw.Errorf(computemw.CodeBadRequest, "input refused: the terminal is not reading it")
	default:
		return err
	}
}

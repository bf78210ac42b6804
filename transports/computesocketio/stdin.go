package computesocketio

import (
	"errors"
	"io"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/internal/textstream"
)

// stdinEvent is the payload of stdin and stdin-end: input for the run
// that execute-code started with openStdin (ID names it when several
// runs are open), and the end of that input.
type stdinEvent struct {
	ID   string `json:"id"`
	Data string `json:"data"`
}

// openInput gives a run started with openStdin its input: a pipe fed by
// stdin events until stdin-end, or until the run ends (the returned
// function, which the run calls when it is done).
func (c *conn) openInput(id string) (io.Reader, func(), error) {
	r, w := io.Pipe()
	q := textstream.NewInputQueue(w, inputBacklog)
	c.mu.Lock()
	if c.inputs == nil {
		c.inputs = make(map[string]*textstream.InputQueue)
	}
	if _, dup := c.inputs[id]; dup {
		c.mu.Unlock()
		q.Close()
		return nil, nil, computemw.Errorf(computemw.CodeBadRequest, "a run with id %q already has its input open", truncate(id, 64))
	}
	c.inputs[id] = q
	c.mu.Unlock()
	done := func() {
		c.mu.Lock()
		if c.inputs[id] == q {
			delete(c.inputs, id)
		}
		c.mu.Unlock()
		_ = r.Close()
		q.Close()
	}
	return r, done, nil
}

// input finds the open input an event names.
func (c *conn) input(id string) (*textstream.InputQueue, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if q, ok := c.inputs[id]; ok {
		return q, nil
	}
	return nil, computemw.Errorf(computemw.CodeBadRequest, "no run with id %q has its input open (start it with openStdin)", truncate(id, 64))
}

// stdin queues input for a run.
func (c *conn) stdin(args []any) error {
	var m stdinEvent
	if _, err := c.decode(args, &m); err != nil {
		return err
	}
	q, err := c.input(m.ID)
	if err != nil {
		return err
	}
	switch err := q.Push(m.Data); {
	case errors.Is(err, textstream.ErrClosed):
		return computemw.Errorf(computemw.CodeBadRequest, "the program's input has ended")
	case errors.Is(err, textstream.ErrFull):
		return computemw.Errorf(computemw.CodeBadRequest, "input refused: the program is not reading it")
	default:
		return err
	}
}

// stdinEnd ends a run's input once what was sent before has reached it,
// so that a program reading to the end of its input finishes.
func (c *conn) stdinEnd(args []any) error {
	var m stdinEvent
	if _, err := c.decode(args, &m); err != nil {
		return err
	}
	q, err := c.input(m.ID)
	if err != nil {
		return err
	}
	if q.End() != nil {
		return computemw.Errorf(computemw.CodeBadRequest, "the program's input has ended")
	}
	return nil
}

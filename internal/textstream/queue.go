package textstream

import (
	"errors"
	"io"
	"sync"
)

// ErrClosed is returned by InputQueue.Push once the queue is closed.
var ErrClosed = errors.New("textstream: input queue closed")

// ErrFull is returned by InputQueue.Push when the backlog is full.
var ErrFull = errors.New("textstream: input queue full")

// InputQueue writes a client's input (stdin, terminal keys) to a program in
// arrival order from one goroutine, so a program that does not read never
// blocks the client's connection. Its backlog is bounded: input for a
// program that does not read is refused, not held without bound. After
// the first failed write the rest is dropped.
type InputQueue struct {
	mu     sync.Mutex
	ch     chan string
	closed bool
	ended  bool // by End: the writer is closed once the queue is written
	done   chan struct{}
}

// NewInputQueue starts a queue that writes to w, holding at most backlog
// inputs not yet written. Close ends it.
func NewInputQueue(w io.Writer, backlog int) *InputQueue {
	q := &InputQueue{ch: make(chan string, backlog), done: make(chan struct{})}
	go func() {
		defer close(q.done)
		failed := false
		for data := range q.ch {
			if !failed {
				_, err := io.WriteString(w, data)
				failed = err != nil
			}
		}
		q.mu.Lock()
		ended := q.ended
		q.mu.Unlock()
		if c, ok := w.(io.Closer); ok && ended {
			_ = c.Close()
		}
	}()
	return q
}

// Push queues data without waiting. It returns ErrClosed after Close and
// ErrFull when the backlog is full.
func (q *InputQueue) Push(data string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	select {
	case q.ch <- data:
		return nil
	default:
		return ErrFull
	}
}

// Close ends the queue: the goroutine writes what is queued and exits (a
// write blocked on a program that is gone fails once its writer is
// closed). Close may be called more than once.
func (q *InputQueue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.ch)
	}
}

// End ends the input: what is queued is written, then the writer is
// closed when it is an io.Closer, so that a program reading its input to
// the end finishes. Push then returns ErrClosed. It returns ErrClosed when
// the queue was already closed or ended.
func (q *InputQueue) End() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	q.closed, q.ended = true, true
	close(q.ch)
	return nil
}

// Done is closed when the queue's goroutine has exited.
func (q *InputQueue) Done() <-chan struct{} { return q.done }

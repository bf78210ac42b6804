package fakekit

import (
	"net/http"
	"strconv"
	"time"
)

// Faults is a fake's queue of injected faults of type F, each for one
// operation and a number of its calls. Faults of one operation apply in
// the order added. It is not safe for concurrent use: the fake guards it
// with its own lock.
type Faults[F any] struct {
	pending []*pending[F]
}

type pending[F any] struct {
	op    string
	times int
	fault F
}

// Add queues fault for the next times calls of op (at least one).
func (q *Faults[F]) Add(op string, times int, fault F) {
	q.pending = append(q.pending, &pending[F]{op: op, times: max(times, 1), fault: fault})
}

// Take returns the first pending fault of op, if any, and counts its use.
func (q *Faults[F]) Take(op string) (F, bool) {
	for i, p := range q.pending {
		if p.op != op {
			continue
		}
		p.times--
		if p.times <= 0 {
			q.pending = append(q.pending[:i], q.pending[i+1:]...)
		}
		return p.fault, true
	}
	var zero F
	return zero, false
}

// SetRetryAfter sets a Retry-After header of d, rounded up to whole
// seconds, when d is positive.
func SetRetryAfter(h http.Header, d time.Duration) {
	if d > 0 {
		h.Set("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
	}
}

// Pause waits d; it reports false when r's client gave up or closing was
// closed (the fake is stopping) first.
func Pause(r *http.Request, closing <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-closing:
		return false
	}
}

// HangUp drops the client's connection: it hijacks it and closes it, or,
// when it cannot, aborts the handler.
func HangUp(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, buf, err := hj.Hijack(); err == nil {
			_ = buf.Flush()
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

package vercelfake

import (
	"net/http"
	"strconv"
	"time"
)

// Fault changes how the fake answers the next calls of one operation.
type Fault struct {
	// Op is the operation ID the fault applies to, as in the description
	// ("createSandbox", "getSession", "runCommand", "readFile", ...).
	Op string
	// Times is how many calls it applies to; default 1.
	Times int
	// Status, when set, is answered (as a vendor error) instead of the
	// operation's work.
	Status int
	// RetryAfter, when positive, is sent as Retry-After (whole seconds).
	RetryAfter time.Duration
	// Location, with a 3xx Status, makes the answer a redirect to it.
	Location string
	// Reset drops the connection without an answer.
	Reset bool
	// Delay holds the answer back (a slow server); it ends early when the
	// client gives up.
	Delay time.Duration
	// ResetAfterBytes, for readFile, drops the connection after that many
	// bytes of the file; ResetAfterLines, for runCommand, after that many
	// ndjson lines (a reset in the middle of a stream).
	ResetAfterBytes, ResetAfterLines int
	// ChunkDelay, for readFile, sends the file in chunks of ChunkSize bytes
	// (default 64) with this pause between them; for runCommand, pauses
	// this long before each ndjson line (a slow stream).
	ChunkDelay time.Duration
	ChunkSize  int
	// CreateAfterGiveUp, for createSandbox, answers nothing until the
	// client has given up (its context ended or it hung up), then creates
	// the sandbox anyway, after this long.
	CreateAfterGiveUp time.Duration
}

// Inject adds a fault; faults of one operation apply in the order given.
func (s *Server) Inject(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// takeFault returns the first pending fault of op and counts its use.
// The caller holds s.mu.
func (s *Server) takeFault(op string) *Fault {
	for i, f := range s.faults {
		if f.Op != op {
			continue
		}
		f.Times--
		if f.Times <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		c := *f
		return &c
	}
	return nil
}

// before applies the parts of a fault that come before the operation's
// work; it reports whether the request has been answered.
func (f *Fault) before(s *Server, q *request) bool {
	if f.Delay > 0 && !s.pause(q.r, f.Delay) {
		return true
	}
	if f.Reset {
		hangUp(q.w)
		return true
	}
	if f.Status != 0 {
		if f.RetryAfter > 0 {
			q.w.Header().Set("Retry-After", strconv.Itoa(int((f.RetryAfter+time.Second-1)/time.Second)))
		}
		if f.Location != "" {
			q.w.Header().Set("Location", f.Location)
		}
		writeErr(q.w, f.Status, "injected", "injected fault")
		return true
	}
	return false
}

// pause waits d; it reports false when the client gave up or the fake is
// closing first.
func (s *Server) pause(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-s.closing:
		return false
	}
}

// hangUp drops the client's connection.
func hangUp(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, buf, err := hj.Hijack(); err == nil {
			buf.Flush()
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// shapes reports whether the fault changes the answer away from what the
// description says (then only an error answer's shape is checked).
func (f *Fault) shapes() bool {
	return f.Status != 0 || f.Reset || f.ResetAfterBytes > 0 || f.ResetAfterLines > 0
}

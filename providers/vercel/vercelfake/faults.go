package vercelfake

import (
	"time"

	"github.com/computemw/kit/providers/internal/fakekit"
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
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.Add(f.Op, f.Times, f)
}

// takeFault returns the first pending fault of op and counts its use.
// The caller holds s.mu.
func (s *Server) takeFault(op string) *Fault {
	if f, ok := s.faults.Take(op); ok {
		return &f
	}
	return nil
}

// before applies the parts of a fault that come before the operation's
// work; it reports whether the request has been answered.
func (f *Fault) before(s *Server, q *request) bool {
	if f.Delay > 0 && !fakekit.Pause(q.r, s.closing, f.Delay) {
		return true
	}
	if f.Reset {
		fakekit.HangUp(q.w)
		return true
	}
	if f.Status != 0 {
		fakekit.SetRetryAfter(q.w.Header(), f.RetryAfter)
		if f.Location != "" {
			q.w.Header().Set("Location", f.Location)
		}
		writeErr(q.w, f.Status, "injected", "injected fault")
		return true
	}
	return false
}

// shapes reports whether the fault changes the answer away from what the
// description says (then only an error answer's shape is checked).
func (f *Fault) shapes() bool {
	return f.Status != 0 || f.Reset || f.ResetAfterBytes > 0 || f.ResetAfterLines > 0
}

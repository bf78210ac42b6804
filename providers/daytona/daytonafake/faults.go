package daytonafake

import (
	"time"

	"github.com/computemw/kit/providers/internal/fakekit"
)

// Fault changes how the fake answers the next calls of one operation.
type Fault struct {
	// Op is the operationId the fault applies to, as in the vendor spec
	// ("createSandbox", "getSandbox", "DownloadFile", ...).
	Op string
	// Times is how many calls it applies to; default 1.
	Times int
	// Status, when set, is answered instead of the operation's work.
	Status int
	// RetryAfter, when positive, is sent as Retry-After (whole seconds).
	RetryAfter time.Duration
	// Location, with a 3xx Status, makes the answer a redirect to it (sent
	// as the Location header), as the toolbox, which runs in the tenant's
	// own sandbox, may answer anything.
	Location string
	// Reset drops the connection without an answer.
	Reset bool
	// Delay holds the answer back (a slow server); it ends early when the
	// client gives up.
	Delay time.Duration
	// ResetAfterBytes, for DownloadFile, drops the connection after that
	// many bytes of the body (a reset in the middle of a stream).
	ResetAfterBytes int
	// ChunkDelay, for DownloadFile, sends the body in chunks of ChunkSize
	// bytes (default 64) with this pause between them (a slow stream).
	ChunkDelay time.Duration
	ChunkSize  int
	// CreateAfterGiveUp, for createSandbox, answers nothing until the
	// client has given up (its context ended or it hung up), then creates
	// the sandbox anyway, after this long.
	CreateAfterGiveUp time.Duration
	// LegacyLogsAsJSON, for GetSessionCommandLogs, answers the legacy
	// format (the combined output, as to a client of an SDK before
	// 0.167.0) as a JSON string rather than as text, whatever SDK
	// version the client sends.
	LegacyLogsAsJSON bool
	// CreatedStatus, for createSandbox, answers the new sandbox with this
	// status instead of the spec's 200 (201 is what a NestJS POST answers
	// by default, and what a proxy in front may pass on).
	CreatedStatus int
	// LegacyLogsAsText, for GetSessionCommandLogs, answers the legacy
	// format as text/plain whatever SDK version the client sends.
	LegacyLogsAsText bool
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
		writeErr(q.w, q.r, f.Status, "injected fault")
		return true
	}
	return false
}

// shapes reports whether the fault changes the answer away from what the
// spec describes (then only an error answer's shape is checked).
func (f *Fault) shapes() bool {
	return f.Status != 0 || f.Reset || f.ResetAfterBytes > 0 || f.LegacyLogsAsJSON || f.CreatedStatus != 0
}

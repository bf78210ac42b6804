package cloudflarefake

import (
	"net/http"
	"strconv"
	"time"

	"github.com/computemw/kit/providers/internal/fakekit"
)

// Fault changes how the fake answers the next calls of one operation.
type Fault struct {
	// Op is the operationId the fault applies to, as in the bridge's
	// document ("createSandbox", "isSandboxRunning", "execCommand",
	// "readFile", ...).
	Op string
	// Times is how many calls it applies to; default 1.
	Times int
	// Status, when set, is answered instead of the operation's work: in
	// the bridge's error shape for the statuses the bridge answers (400,
	// 401, 403, 404, 413, 502, 503), else as Cloudflare's edge in front of
	// the Worker answers (text, "error code: ...").
	Status int
	// RetryAfter, when positive, is sent as Retry-After (whole seconds).
	RetryAfter time.Duration
	// Location, with a 3xx Status, is sent as the Location header.
	Location string
	// Reset drops the connection without an answer.
	Reset bool
	// Hold, when set, holds the request until it is closed (or the fake
	// stops); then the operation's work is done and answered whatever the
	// client did meanwhile: a create that succeeds after the client gave
	// up. OnHold, when set, is called once the request is held.
	Hold   <-chan struct{}
	OnHold func()
	// ResetAfterEvents, for execCommand, drops the connection after that
	// many output events (a reset in the middle of the stream).
	ResetAfterEvents int
	// EventDelay, for execCommand, pauses this long before each output
	// event, which carries at most EventBytes bytes (default 1): a slow
	// stream.
	EventDelay time.Duration
	EventBytes int
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
func (f *Fault) before(s *Server, w http.ResponseWriter, r *http.Request) bool {
	if f.Hold != nil {
		if f.OnHold != nil {
			f.OnHold()
		}
		select {
		case <-f.Hold:
		case <-s.closing:
			return true
		}
	}
	if f.Reset {
		fakekit.HangUp(w)
		return true
	}
	if f.Status != 0 {
		fakekit.SetRetryAfter(w.Header(), f.RetryAfter)
		if f.Location != "" {
			w.Header().Set("Location", f.Location)
		}
		if code := bridgeCode(f.Status); code != "" {
			writeErr(w, f.Status, "injected fault", code)
			return true
		}
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		w.WriteHeader(f.Status)
		_, _ = w.Write([]byte("error code: " + strconv.Itoa(edgeCode(f.Status))))
		return true
	}
	return false
}

// bridgeCode is the bridge's error code for a status the bridge itself
// answers, "" for others.
func bridgeCode(status int) string {
	switch status {
	case 400, 403:
		return "invalid_request"
	case 401:
		return "unauthorized"
	case 404:
		return "workspace_read_not_found"
	case 413:
		return "invalid_request"
	case 502:
		return "exec_transport_error"
	case 503:
		return "capacity_exceeded"
	}
	return ""
}

// edgeCode is a Cloudflare edge error code for a status (1015: rate
// limited; 1101: Worker threw).
func edgeCode(status int) int {
	if status == http.StatusTooManyRequests {
		return 1015
	}
	return 1101
}

// shapes reports whether the fault changes the answer away from what the
// document describes (then only the error's shape is checked).
func (f *Fault) shapes() bool {
	return f.Status != 0 || f.Reset || f.ResetAfterEvents > 0
}

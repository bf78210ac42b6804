package e2bfake

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// The operations a Fault or Count names.
const (
	OpCreate     = "create"      // POST /sandboxes
	OpList       = "list"        // GET /v2/sandboxes
	OpGet        = "get"         // GET /sandboxes/{id}
	OpKill       = "kill"        // DELETE /sandboxes/{id}
	OpSetTimeout = "set-timeout" // POST /sandboxes/{id}/timeout
	OpConnect    = "connect"     // POST /sandboxes/{id}/connect
	OpMetrics    = "metrics"     // GET /sandboxes/{id}/metrics
	OpDownload   = "download"    // GET /files
	OpUpload     = "upload"      // POST /files
	OpStart      = "start"       // process.Process/Start
	OpSendInput  = "send-input"  // process.Process/SendInput
	OpSignal     = "signal"      // process.Process/SendSignal
	OpStat       = "stat"        // filesystem.Filesystem/Stat
	OpListDir    = "list-dir"    // filesystem.Filesystem/ListDir
)

// Fault changes how the fake answers requests to one operation.
type Fault struct {
	// Op is the operation (OpCreate, OpStart, ...).
	Op string
	// Times is how many requests the fault applies to; 0 means one.
	Times int
	// Status, when set, answers the request with this HTTP status and an
	// error body instead of serving it (for RPCs too: Connect maps the
	// status to a code).
	Status int
	// RetryAfter, when positive, is sent as Retry-After (whole seconds)
	// with Status.
	RetryAfter time.Duration
	// Location, with a 3xx Status, makes the answer a redirect to it (sent
	// as the Location header), as envd, which runs in the tenant's own
	// sandbox, may answer anything. For an RPC the redirect is the HTTP
	// answer to the RPC's request.
	Location string
	// ResetAfterEvents, for OpStart, aborts the connection after that
	// many events of the process's stream were sent (1: right after the
	// start event).
	ResetAfterEvents int
	// AbortAfterCreate, for OpCreate, makes the sandbox and then aborts
	// the connection instead of answering: the client cannot know.
	AbortAfterCreate bool
	// EventDelay, for OpStart, delays every event of the stream (a slow
	// stream).
	EventDelay time.Duration
}

// Inject adds a fault; faults apply in the order given.
func (f *Fake) Inject(fault Fault) {
	if fault.Times <= 0 {
		fault.Times = 1
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, &fault)
}

// take counts a request to op and returns the fault that applies to it, if
// any, using it up.
func (f *Fake) take(op string) *Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts[op]++
	for i, ft := range f.faults {
		if ft.Op != op {
			continue
		}
		ft.Times--
		if ft.Times <= 0 {
			f.faults = append(f.faults[:i:i], f.faults[i+1:]...)
		}
		c := *ft
		return &c
	}
	return nil
}

// answerFault writes a fault's error answer; it reports false when the
// fault does not answer the request itself.
func answerFault(w http.ResponseWriter, ft *Fault) bool {
	if ft == nil || ft.Status == 0 {
		return false
	}
	notDescribed(w)
	if ft.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((ft.RetryAfter+time.Second-1)/time.Second)))
	}
	if ft.Location != "" {
		w.Header().Set("Location", ft.Location)
	}
	writeError(w, ft.Status, "injected fault")
	return true
}

// takeRedirect is take for the redirect faults (those with a Location)
// only: it counts a request to op, and uses up and returns its first
// redirect fault, only when there is one.
func (f *Fake) takeRedirect(op string) *Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, ft := range f.faults {
		if ft.Op != op || ft.Location == "" {
			continue
		}
		f.counts[op]++
		ft.Times--
		if ft.Times <= 0 {
			f.faults = append(f.faults[:i:i], f.faults[i+1:]...)
		}
		c := *ft
		return &c
	}
	return nil
}

// writeError writes the vendor's error body, {code, message}.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": status, "message": msg})
}

// Hold keeps create requests waiting until Release.
type Hold struct {
	arrived chan struct{}
	gate    chan struct{}
	once    sync.Once
	arrive  sync.Once
}

// Arrived is closed when a create request is waiting on the hold.
func (h *Hold) Arrived() <-chan struct{} { return h.arrived }

// Release lets the held create go on: the sandbox is made and the answer
// sent, whether or not the client still waits for it.
func (h *Hold) Release() { h.release() }

func (h *Hold) release() { h.once.Do(func() { close(h.gate) }) }

// HoldCreates makes the next create request wait for Release.
func (f *Fake) HoldCreates() *Hold {
	h := &Hold{arrived: make(chan struct{}), gate: make(chan struct{})}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.holds = append(f.holds, h)
	return h
}

// takeHold returns the oldest unused hold, if any.
func (f *Fake) takeHold() *Hold {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.holds) == 0 {
		return nil
	}
	h := f.holds[0]
	f.holds = f.holds[1:]
	return h
}

// notDescribed marks an answer as not the described service's own (an
// injected fault's, or the proxy's in front of envd), which may have a
// status the operation does not declare.
func notDescribed(w http.ResponseWriter) {
	if sw, ok := w.(*statusWriter); ok {
		sw.injected = true
	}
}

package fakekit

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
)

// Exchange is one request a fake answered, as recorded for the check
// against the vendor's API description.
type Exchange struct {
	// Op is the operationId the request matched ("" when it matched none).
	Op string
	// Method and Path are the request's.
	Method, Path string
	// Status is the answer's status (101 for a WebSocket, 0 when the
	// connection was dropped).
	Status int
	// Faulted is set when an injected fault shaped the answer, which is
	// then checked only for the shape of the vendor's errors.
	Faulted bool
	// Checked is set when both the request and the answer were validated
	// against the vendor's API description and passed.
	Checked bool
	// Problem is what the check found wrong ("" when nothing).
	Problem string
}

// MaxRecorded caps how much of an answer's body a [Recorder] keeps for the
// check.
const MaxRecorded = 4 << 20

// Recorder keeps an answer's status and body (up to [MaxRecorded]) while
// passing them on; it flushes (event and ndjson streams), unwraps (for
// http.ResponseController) and hijacks (WebSockets, resets).
type Recorder struct {
	http.ResponseWriter
	// Status is the status answered (0 when nothing was).
	Status int
	// Body is the body answered, when Overflow is not set.
	Body bytes.Buffer
	// Overflow is set when the body was longer than MaxRecorded.
	Overflow bool
	// Hijacked is set when a handler took the connection.
	Hijacked bool
}

// WriteHeader implements http.ResponseWriter.
func (w *Recorder) WriteHeader(status int) {
	if w.Status == 0 {
		w.Status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

// Write implements http.ResponseWriter.
func (w *Recorder) Write(p []byte) (int, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	if room := MaxRecorded - w.Body.Len(); room >= len(p) {
		w.Body.Write(p)
	} else {
		w.Overflow = true
	}
	return w.ResponseWriter.Write(p)
}

// Flush sends what was written so far.
func (w *Recorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap is for http.ResponseController.
func (w *Recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack lets a WebSocket or a fault take the connection.
func (w *Recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	w.Hijacked = true
	return hj.Hijack()
}

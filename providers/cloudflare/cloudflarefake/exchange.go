package cloudflarefake

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
)

// Exchange is one request the fake answered, as recorded for the check.
type Exchange struct {
	// Op is the operationId the request matched ("" when it matched none).
	Op string
	// Method and Path are the request's.
	Method, Path string
	// Status is the answer's status (101 for a WebSocket, 0 when the
	// connection was dropped).
	Status int
	// Faulted is set when an injected fault shaped the answer, which is
	// then checked only for an error's shape.
	Faulted bool
	// Checked is set when both the request and the answer were validated
	// against the bridge's document and passed.
	Checked bool
	// Problem is what the check found wrong ("" when nothing).
	Problem string
}

// Exchanges returns every exchange so far, in the order answered.
func (s *Server) Exchanges() []Exchange {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Exchange(nil), s.exchanges...)
}

// maxRecorded caps how much of an answer's body is kept for the check.
const maxRecorded = 4 << 20

// recordingWriter keeps an answer's status, headers and body (up to
// maxRecorded) while passing them on; it flushes (event streams) and
// hijacks (WebSockets, resets).
type recordingWriter struct {
	http.ResponseWriter
	status   int
	body     bytes.Buffer
	overflow bool
	hijacked bool
}

func (w *recordingWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if room := maxRecorded - w.body.Len(); room >= len(p) {
		w.body.Write(p)
	} else {
		w.overflow = true
	}
	return w.ResponseWriter.Write(p)
}

// Flush sends what was written so far.
func (w *recordingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap is for http.ResponseController.
func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack lets a WebSocket or a fault take the connection.
func (w *recordingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	w.hijacked = true
	return hj.Hijack()
}

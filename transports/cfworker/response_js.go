//go:build js && wasm

package cfworker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"syscall/js"
)

// responseWriter holds the answer until the handler flushes or returns;
// from its first Flush on, the answer is sent and what the handler writes
// streams out. Its body is bounded either way.
type responseWriter struct {
	header   http.Header
	status   int
	body     bytes.Buffer // what is not sent yet
	written  int64        // body bytes written in all
	max      int64
	overflow bool
	aborted  bool // the handler panicked after the answer was sent
	gone     bool // the stream no longer takes chunks (the client left)

	resolve js.Value // the slot's resolve: hands the answer to the Worker
	stream  js.Value // the answer's ReadableStream's controller, once sent
}

func newResponseWriter(max int64, resolve js.Value) *responseWriter {
	return &responseWriter{header: http.Header{}, max: max, resolve: resolve}
}

// Header implements http.ResponseWriter.
func (w *responseWriter) Header() http.Header { return w.header }

// WriteHeader implements http.ResponseWriter: the first status wins;
// informational ones are not sent.
func (w *responseWriter) WriteHeader(status int) {
	if w.status == 0 && status >= 200 {
		w.status = status
	}
}

var errResponseTooLarge = errors.New("cfworker: the answer is larger than the Worker's limit")

// Write implements http.ResponseWriter. Past the bound the write fails:
// an answer not sent yet becomes a 502, a streaming one is cut.
func (w *responseWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if w.overflow {
		return 0, errResponseTooLarge
	}
	if w.written+int64(len(p)) > w.max {
		w.overflow = true
		w.body.Reset()
		return 0, errResponseTooLarge
	}
	w.written += int64(len(p))
	if w.sent() {
		if err := w.enqueue(p); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return w.body.Write(p)
}

// Flush implements http.Flusher: the answer is sent, with what was
// written so far, and what follows streams out.
func (w *responseWriter) Flush() {
	if w.overflow {
		return
	}
	if !w.sent() {
		w.send(true)
	}
}

func (w *responseWriter) sent() bool { return w.stream.Type() == js.TypeObject }

// fail replaces whatever was written with a JSON error in the kit's
// shape; it has no effect once the answer is sent.
func (w *responseWriter) fail(status int, code, msg string) {
	if w.sent() {
		w.aborted = true
		return
	}
	w.header = http.Header{"Content-Type": {"application/json"}}
	w.status = status
	w.overflow = false
	w.body.Reset()
	_ = json.NewEncoder(&w.body).Encode(map[string]string{"error": msg, "code": code})
}

// finish ends the answer once the handler returned: it sends it whole
// if it was not sent, or closes its stream (errors it when cut).
func (w *responseWriter) finish() {
	if w.overflow {
		slog.Error("cfworker: the answer outgrew its bound", "limit", w.max, "streaming", w.sent())
		if !w.sent() {
			w.fail(http.StatusBadGateway, "UNAVAILABLE", fmt.Sprintf("the answer is larger than this Worker's limit of %d bytes", w.max))
		}
	}
	switch {
	case !w.sent():
		w.send(false)
	case w.overflow || w.aborted:
		_ = w.streamCall("error", js.Global().Get("Error").New("cfworker: the answer was cut"))
	default:
		_ = w.streamCall("close")
	}
}

// send hands the answer to the Worker as the object cfworker.mjs makes a
// Response of: {status, headers: [[name, value], ...], body}, the body
// the bytes written (or null), or with streaming a ReadableStream that
// starts with them.
func (w *responseWriter) send(streaming bool) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	headers := js.Global().Get("Array").New()
	for name, values := range w.header {
		for _, v := range values {
			headers.Call("push", js.ValueOf([]any{name, v}))
		}
	}
	res := js.Global().Get("Object").New()
	res.Set("status", w.status)
	res.Set("headers", headers)
	res.Set("body", js.Null())
	switch {
	case !bodyAllowed(w.status):
		w.body.Reset()
	case streaming:
		var controller js.Value
		start := js.FuncOf(func(_ js.Value, args []js.Value) any {
			controller = args[0]
			return nil
		})
		// The constructor calls start at once.
		stream := js.Global().Get("ReadableStream").New(map[string]any{"start": start})
		start.Release()
		w.stream = controller
		res.Set("body", stream)
		_ = w.enqueue(w.body.Bytes())
		w.body.Reset()
	case w.body.Len() > 0:
		res.Set("body", toJS(w.body.Bytes()))
	}
	w.resolve.Invoke(res)
}

// errGone is a write to a stream the client no longer reads.
var errGone = errors.New("cfworker: the client went away")

// enqueue streams p out.
func (w *responseWriter) enqueue(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	return w.streamCall("enqueue", toJS(p))
}

// streamCall calls the stream's controller; once the stream is closed
// (the client cancelled it) the controller throws, and every later call
// is errGone.
func (w *responseWriter) streamCall(method string, args ...any) (err error) {
	if w.gone {
		return errGone
	}
	defer func() {
		if v := recover(); v != nil {
			w.gone = true
			err = errGone
		}
	}()
	w.stream.Call(method, args...)
	return nil
}

// toJS copies p into a new Uint8Array.
func toJS(p []byte) js.Value {
	buf := uint8Array.New(len(p))
	js.CopyBytesToJS(buf, p)
	return buf
}

// bodyAllowed reports whether a response of status may have a body.
func bodyAllowed(status int) bool {
	return status != http.StatusNoContent && status != http.StatusNotModified && status != http.StatusResetContent
}

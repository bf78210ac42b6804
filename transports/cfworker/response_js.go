//go:build js && wasm

package cfworker

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"syscall/js"
)

// responseWriter holds the answer until the handler returns, its body
// bounded.
type responseWriter struct {
	header   http.Header
	status   int
	body     bytes.Buffer
	max      int64
	overflow bool
}

func newResponseWriter(max int64) *responseWriter {
	return &responseWriter{header: http.Header{}, max: max}
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

// Write implements http.ResponseWriter: past the bound the answer becomes
// a 502 and the write fails.
func (w *responseWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if w.overflow {
		return 0, errResponseTooLarge
	}
	if int64(w.body.Len()+len(p)) > w.max {
		w.overflow = true
		w.body.Reset()
		return 0, errResponseTooLarge
	}
	return w.body.Write(p)
}

var errResponseTooLarge = fmt.Errorf("cfworker: the answer is larger than the Worker's limit")

// Flush implements http.Flusher; the answer goes out whole when the
// handler returns, so it does nothing.
func (w *responseWriter) Flush() {}

// fail replaces whatever was written with a JSON error in the kit's shape.
func (w *responseWriter) fail(status int, code, msg string) {
	w.header = http.Header{"Content-Type": {"application/json"}}
	w.status = status
	w.overflow = false
	w.body.Reset()
	_ = json.NewEncoder(&w.body).Encode(map[string]string{"error": msg, "code": code})
}

// answer is the response as the object cfworker.mjs makes a Response of:
// {status, headers: [[name, value], ...], body: Uint8Array | null}.
func (w *responseWriter) answer() js.Value {
	if w.overflow {
		slog.Error("cfworker: the answer outgrew its bound and was replaced by a 502", "limit", w.max)
		w.fail(http.StatusBadGateway, "UNAVAILABLE", fmt.Sprintf("the answer is larger than this Worker's limit of %d bytes", w.max))
	}
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
	if n := w.body.Len(); n > 0 && bodyAllowed(w.status) {
		buf := uint8Array.New(n)
		js.CopyBytesToJS(buf, w.body.Bytes())
		res.Set("body", buf)
	}
	return res
}

// bodyAllowed reports whether a response of status may have a body.
func bodyAllowed(status int) bool {
	return status != http.StatusNoContent && status != http.StatusNotModified && status != http.StatusResetContent
}

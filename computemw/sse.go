package computemw

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// handleExecStream serves POST /sandboxes/{id}/exec/stream: the command's
// output as Server-Sent Events while it runs — "stdout" and "stderr" events
// whose data is a JSON string, then one "exit" event {"exitCode":N}, or an
// "error" event with the error body.
func (k *Kit) handleExecStream(ctx context.Context, r *Request) (*Response, error) {
	run, err := k.decodeExec(ctx, r)
	if err != nil {
		return nil, err
	}
	// Admitted, authorized and with its session in use before the answer
	// starts, so that a refusal is a plain HTTP error.
	ctx, p, err := k.prepare(ctx, run)
	if err != nil {
		return nil, err
	}
	h := make(http.Header, 4)
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	return &Response{Status: http.StatusOK, Header: h, Stream: func(sctx context.Context, w io.Writer, flush func() error) error {
		defer p.release()
		defer k.trackConnection(ctx, OpExec)()
		// The request's values (request ID, principal) with the stream's
		// lifetime: it ends when the client is gone or a write fails.
		sctx, cancel := context.WithCancelCause(mergeCancel(ctx, sctx))
		defer cancel(nil)
		ev := &sseWriter{w: w, flush: flush, cancel: cancel}
		stdout, stderr := ev.stream("stdout"), ev.stream("stderr")
		p.opts.Stdout, p.opts.Stderr = stdout, stderr
		res, err := k.execute(sctx, p.a, p.g, p.opts, p.fn)
		stdout.close()
		stderr.close()
		if err != nil {
			e := AsError(err)
			msg := e.Message
			if e.Code == CodeInternal {
				k.log.ErrorContext(ctx, "computemw: exec stream", "requestId", RequestIDFrom(ctx), "error", err)
				msg = ErrInternal.Message
			}
			ev.event("error", ErrorBody{Error: msg, Code: e.Code, RequestID: RequestIDFrom(ctx)})
		}
		if res != nil {
			ev.event("exit", map[string]int{"exitCode": res.ExitCode})
		}
		return context.Cause(sctx)
	}}, nil
}

// mergeCancel returns a context with parent's values that is cancelled
// when stop is.
func mergeCancel(parent, stop context.Context) context.Context {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	context.AfterFunc(stop, cancel)
	return ctx
}

// sseWriter writes Server-Sent Events; the first write error cancels the
// execution, so a vanished client does not keep a program running.
type sseWriter struct {
	mu     sync.Mutex
	w      io.Writer
	flush  func() error
	cancel context.CancelCauseFunc
	failed bool
}

func (s *sseWriter) event(name string, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed {
		return
	}
	if _, err := fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", name, data); err == nil {
		err = s.flush()
		if err == nil {
			return
		}
	}
	s.failed = true
	s.cancel(fmt.Errorf("computemw: event stream client gone"))
}

// stream returns the writer of one output stream's events; close it at
// the end to send what a split character held back.
func (s *sseWriter) stream(name string) *sseStream { return &sseStream{s: s, name: name} }

type sseStream struct {
	s    *sseWriter
	name string
	utf8Chunker
}

func (w *sseStream) Write(p []byte) (int, error) {
	if text := w.next(p); text != "" {
		w.s.event(w.name, text)
	}
	return len(p), nil
}

func (w *sseStream) close() {
	if text := w.rest(); text != "" {
		w.s.event(w.name, text)
	}
}

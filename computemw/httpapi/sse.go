package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/internal/textstream"
)

// handleExecStream serves POST /sandboxes/{id}/exec/stream: the command's
// output as Server-Sent Events while it runs — "stdout" and "stderr" events
// whose data is a JSON string, then one "exit" event {"exitCode":N}, or an
// "error" event with the error body.
func (k *API) handleExecStream(ctx context.Context, r *computemw.Request) (*Response, error) {
	run, err := k.decodeExec(ctx, r)
	if err != nil {
		return nil, err
	}
	// A stream is a connection of the caller's (Config.WebSocket's caps),
	// admitted, authorized and with its session in use before the answer
	// starts, so that a refusal is a plain HTTP error.
	closeConn, err := k.kit.OpenConnection(ctx, computemw.OpExec)
	if err != nil {
		return nil, err
	}
	p, err := k.kit.Prepare(ctx, run)
	if err != nil {
		closeConn()
		return nil, err
	}
	ctx = p.Context()
	h := make(http.Header, 4)
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	return &Response{Status: http.StatusOK, Header: h, Stream: func(sctx context.Context, w io.Writer, flush func() error) error {
		defer p.Release()
		defer closeConn()
		// The request's values (request ID, principal) with the stream's
		// lifetime: it ends when the client is gone or a write fails.
		sctx, cancel := context.WithCancelCause(mergeCancel(ctx, sctx))
		defer cancel(nil)
		ev := &sseWriter{w: w, flush: flush, cancel: cancel}
		stdout, stderr := ev.stream("stdout"), ev.stream("stderr")
		res, err := p.Run(sctx, stdout, stderr)
		stdout.close()
		stderr.close()
		if err != nil {
			e := computemw.AsError(err)
			msg := e.Message
			if e.Code == computemw.CodeInternal {
				k.log.ErrorContext(ctx, "computemw: exec stream", "requestId", computemw.RequestIDFrom(ctx), "error", err)
				msg = computemw.ErrInternal.Message
			}
			ev.event("error", ErrorBody{Error: msg, Code: e.Code, RequestID: computemw.RequestIDFrom(ctx)})
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
	s     *sseWriter
	name  string
	chunk textstream.UTF8Chunker
}

func (w *sseStream) Write(p []byte) (int, error) {
	if text := w.chunk.Next(p); text != "" {
		w.s.event(w.name, text)
	}
	return len(p), nil
}

func (w *sseStream) close() {
	if text := w.chunk.Rest(); text != "" {
		w.s.event(w.name, text)
	}
}

package textstream

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
)

// Capped keeps the first max bytes written to it and discards the rest,
// remembering that it did. Writes never fail, so a chatty program is
// drained instead of blocked. It is safe for concurrent use.
type Capped struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	max       int64
	truncated bool
}

// NewCapped returns a capture that keeps at most max bytes.
func NewCapped(max int64) *Capped { return &Capped{max: max} }

// Write keeps what fits of p and always reports all of p written.
func (c *Capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	room := c.max - int64(c.buf.Len())
	if int64(len(p)) > room {
		c.truncated = true
		if room > 0 {
			c.buf.Write(p[:room])
		}
		return len(p), nil
	}
	c.buf.Write(p)
	return len(p), nil
}

// Result returns what was kept and whether anything was discarded.
func (c *Capped) Result() (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String(), c.truncated
}

// Tee returns a writer that captures output in c and, when stream is not
// nil, passes it on as it comes. The first error of stream calls stop with
// that error and ends the streaming; the capture goes on, so the source is
// always drained. Without stream it returns c itself. The writer it
// returns is for one goroutine.
func Tee(c *Capped, stream io.Writer, stop context.CancelCauseFunc) io.Writer {
	if stream == nil {
		return c
	}
	return &teeWriter{capture: c, stream: stream, stop: stop}
}

type teeWriter struct {
	capture *Capped
	stream  io.Writer
	stop    context.CancelCauseFunc
	failed  bool
}

func (t *teeWriter) Write(p []byte) (int, error) {
	_, _ = t.capture.Write(p)
	if !t.failed {
		if _, err := t.stream.Write(p); err != nil {
			t.failed = true
			t.stop(fmt.Errorf("output stream: %w", err))
		}
	}
	return len(p), nil
}

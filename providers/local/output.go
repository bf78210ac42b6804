//go:build linux

package local

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
)

// cappedBuffer keeps the first max bytes written to it and discards the
// rest, remembering that it did. Writes never fail, so a chatty program is
// drained instead of blocked.
type cappedBuffer struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	max       int64
	truncated bool
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	room := c.max - int64(c.buf.Len())
	if room <= 0 {
		if len(p) > 0 {
			c.truncated = true
		}
		return len(p), nil
	}
	if int64(len(p)) > room {
		c.buf.Write(p[:room])
		c.truncated = true
		return len(p), nil
	}
	c.buf.Write(p)
	return len(p), nil
}

func (c *cappedBuffer) result() (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String(), c.truncated
}

// tee captures output and, when stream is set, passes it on as it comes.
// The first error of stream calls stop and ends the streaming; the capture
// goes on, so the pipe is always drained.
func tee(capture *cappedBuffer, stream io.Writer, stop context.CancelCauseFunc) io.Writer {
	if stream == nil {
		return capture
	}
	return &teeWriter{capture: capture, stream: stream, stop: stop}
}

type teeWriter struct {
	capture *cappedBuffer
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

// feedStdin connects r to the program's standard input through a pipe
// that the caller closes once the program is gone. Unlike exec.Cmd's own
// copying, the run never waits for r: a reader that blocks (a WebSocket
// client that types nothing) cannot hold the execution open, and its
// goroutine ends when r returns or the pipe is closed.
func feedStdin(cmd *exec.Cmd, r io.Reader) (io.Closer, error) {
	if r == nil {
		return io.NopCloser(nil), nil
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("local: stdin pipe: %w", err)
	}
	cmd.Stdin = pr
	go func() {
		_, _ = io.Copy(pw, r)
		pw.Close()
	}()
	return closers{pr, pw}, nil
}

type closers []io.Closer

func (c closers) Close() error {
	for _, x := range c {
		_ = x.Close()
	}
	return nil
}

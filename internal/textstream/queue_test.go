package textstream

import (
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
)

// blockedWriter blocks every write until release is closed.
type blockedWriter struct {
	started chan struct{}
	release chan struct{}
	once    sync.Once
	mu      sync.Mutex
	got     strings.Builder
}

func newBlockedWriter() *blockedWriter {
	return &blockedWriter{started: make(chan struct{}), release: make(chan struct{})}
}

func (w *blockedWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.started) })
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.got.Write(p)
}

func (w *blockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.got.String()
}

func TestInputQueueWritesInOrderAndEndsAfterClose(t *testing.T) {
	w := newBlockedWriter()
	close(w.release)
	q := NewInputQueue(w, 4)
	for _, s := range []string{"a", "b", "c"} {
		if err := q.Push(s); err != nil {
			t.Fatalf("Push(%q): %v", s, err)
		}
	}
	q.Close()
	q.Close()
	<-q.Done()
	if got := w.String(); got != "abc" {
		t.Fatalf("wrote %q, want \"abc\"", got)
	}
}

func TestInputQueueFullRefuses(t *testing.T) {
	w := newBlockedWriter()
	const backlog = 3
	q := NewInputQueue(w, backlog)
	if err := q.Push("first"); err != nil {
		t.Fatal(err)
	}
	<-w.started // the goroutine holds "first" in a write that blocks
	for i := range backlog {
		if err := q.Push("x"); err != nil {
			t.Fatalf("Push %d of the backlog: %v", i, err)
		}
	}
	if err := q.Push("one too many"); !errors.Is(err, ErrFull) {
		t.Fatalf("Push to a full queue: %v, want ErrFull", err)
	}
	close(w.release)
	q.Close()
	<-q.Done()
	if got := w.String(); got != "firstxxx" {
		t.Fatalf("wrote %q, want what was accepted", got)
	}
}

func TestInputQueueClosedRefuses(t *testing.T) {
	q := NewInputQueue(io.Discard, 1)
	q.Close()
	if err := q.Push("late"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Push after Close: %v, want ErrClosed", err)
	}
	<-q.Done()
}

type errWriter struct{ writes int }

func (w *errWriter) Write([]byte) (int, error) { w.writes++; return 0, io.ErrClosedPipe }

func TestInputQueueDropsInputAfterAFailedWrite(t *testing.T) {
	w := &errWriter{}
	q := NewInputQueue(w, 4)
	for range 3 {
		if err := q.Push("x"); err != nil {
			t.Fatal(err)
		}
	}
	q.Close()
	<-q.Done()
	if w.writes != 1 {
		t.Fatalf("%d writes, want 1: input after a failed write is dropped", w.writes)
	}
}

// End writes what is queued, then closes the writer: the reader sees the
// input and then its end. Close alone leaves the writer open.
func TestInputQueueEndClosesTheWriterAfterTheQueue(t *testing.T) {
	r, w := io.Pipe()
	q := NewInputQueue(w, 4)
	for _, s := range []string{"olleh\n", "rest"} {
		if err := q.Push(s); err != nil {
			t.Fatalf("Push(%q): %v", s, err)
		}
	}
	if err := q.End(); err != nil {
		t.Fatalf("End: %v", err)
	}
	if err := q.End(); !errors.Is(err, ErrClosed) {
		t.Errorf("second End: %v, want ErrClosed", err)
	}
	if err := q.Push("late"); !errors.Is(err, ErrClosed) {
		t.Errorf("Push after End: %v, want ErrClosed", err)
	}
	got, err := io.ReadAll(r)
	if err != nil || string(got) != "olleh\nrest" {
		t.Fatalf("read %q, %v; want the input then its end", got, err)
	}
	<-q.Done()

	c := &closeRecorder{Writer: io.Discard}
	q2 := NewInputQueue(c, 1)
	q2.Close()
	<-q2.Done()
	if c.closed {
		t.Error("Close closed the writer")
	}
}

// closeRecorder is a writer that records whether it was closed.
type closeRecorder struct {
	io.Writer
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

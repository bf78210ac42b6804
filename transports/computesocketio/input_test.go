package computesocketio

import (
	"errors"
	"io"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/internal/textstream"
)

// A refused input keeps the words of this API: a full backlog and an
// ended terminal are each a bad request with their own message.
func TestPushKeysRefusals(t *testing.T) {
	r, w := io.Pipe() // nobody reads: the first write blocks
	q := textstream.NewInputQueue(w, 2)
	var err error
	for range 4 {
		if err = pushKeys(q, "x"); err != nil {
			break
		}
	}
	want := "input refused: the terminal is not reading it"
	var ce *computemw.Error
	if !errors.As(err, &ce) || ce.Code != computemw.CodeBadRequest || ce.Message != want {
		t.Fatalf("push to a full queue: %v, want %q", err, want)
	}
	_ = r.Close() // the blocked write fails; the queue drains and ends
	q.Close()
	<-q.Done()
	err = pushKeys(q, "late")
	want = "the terminal has ended"
	if !errors.As(err, &ce) || ce.Code != computemw.CodeBadRequest || ce.Message != want {
		t.Fatalf("push after close: %v, want %q", err, want)
	}
}

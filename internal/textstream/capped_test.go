package textstream

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
)

func TestCappedKeepsExactlyTheCap(t *testing.T) {
	c := NewCapped(5)
	if n, err := c.Write([]byte("abc")); n != 3 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if n, err := c.Write([]byte("de")); n != 2 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if s, trunc := c.Result(); s != "abcde" || trunc {
		t.Fatalf("at the cap: %q, truncated %v; want \"abcde\", false", s, trunc)
	}
	if n, err := c.Write(nil); n != 0 || err != nil {
		t.Fatalf("empty Write = %d, %v", n, err)
	}
	if _, trunc := c.Result(); trunc {
		t.Fatal("an empty write at the cap marked the capture truncated")
	}
	if n, err := c.Write([]byte("f")); n != 1 || err != nil {
		t.Fatalf("Write past the cap = %d, %v; want 1, nil", n, err)
	}
	if s, trunc := c.Result(); s != "abcde" || !trunc {
		t.Fatalf("one past the cap: %q, truncated %v; want \"abcde\", true", s, trunc)
	}
}

func TestCappedCutsAWriteThatCrossesTheCap(t *testing.T) {
	c := NewCapped(4)
	if n, err := c.Write([]byte("abcdef")); n != 6 || err != nil {
		t.Fatalf("Write = %d, %v; want 6, nil", n, err)
	}
	if s, trunc := c.Result(); s != "abcd" || !trunc {
		t.Fatalf("got %q, truncated %v; want \"abcd\", true", s, trunc)
	}
}

func TestCappedConcurrentWrites(t *testing.T) {
	const writers, each, max = 8, 100, 500
	c := NewCapped(max)
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				_, _ = c.Write([]byte("x"))
				_, _ = c.Result()
			}
		}()
	}
	wg.Wait()
	s, trunc := c.Result()
	if len(s) != max || !trunc || strings.Trim(s, "x") != "" {
		t.Fatalf("kept %d bytes, truncated %v; want %d, true", len(s), trunc, max)
	}
}

type failingWriter struct {
	after  int
	writes int
	got    strings.Builder
}

var errBroken = errors.New("broken stream")

func (w *failingWriter) Write(p []byte) (int, error) {
	w.writes++
	if w.writes > w.after {
		return 0, errBroken
	}
	return w.got.Write(p)
}

func TestTeeStopsOnTheFirstStreamErrorAndKeepsCapturing(t *testing.T) {
	ctx, stop := context.WithCancelCause(context.Background())
	defer stop(nil)
	c := NewCapped(100)
	stream := &failingWriter{after: 1}
	w := Tee(c, stream, stop)
	for _, s := range []string{"one ", "two ", "three"} {
		if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if got, _ := c.Result(); got != "one two three" {
		t.Errorf("captured %q, want everything", got)
	}
	if stream.got.String() != "one " || stream.writes != 2 {
		t.Errorf("stream got %q in %d writes; want \"one \" and no write after the failure", stream.got.String(), stream.writes)
	}
	if err := context.Cause(ctx); !errors.Is(err, errBroken) {
		t.Errorf("cause %v, want the stream's error", err)
	}
}

func TestTeeWithoutStreamIsTheCapture(t *testing.T) {
	c := NewCapped(1)
	if w := Tee(c, nil, nil); w != c {
		t.Fatalf("Tee without a stream = %T, want the capture", w)
	}
}

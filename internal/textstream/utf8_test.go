package textstream

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// Every character of 1 to 4 bytes survives every way of splitting the
// stream into two or three writes.
func TestUTF8ChunkerEveryCutPoint(t *testing.T) {
	const text = "a\u00e9\u20ac\U0001F600b\U0001F600"
	b := []byte(text)
	for i := 0; i <= len(b); i++ {
		for j := i; j <= len(b); j++ {
			var c UTF8Chunker
			var got strings.Builder
			for _, part := range [][]byte{b[:i], b[i:j], b[j:]} {
				s := c.Next(part)
				if !utf8.ValidString(s) {
					t.Fatalf("cut at %d,%d: chunk %q is not valid UTF-8", i, j, s)
				}
				got.WriteString(s)
			}
			got.WriteString(c.Rest())
			if got.String() != text {
				t.Fatalf("cut at %d,%d: %q, want %q", i, j, got.String(), text)
			}
		}
	}
}

func TestUTF8ChunkerHoldsOnlyAnIncompleteEnd(t *testing.T) {
	var c UTF8Chunker
	if s := c.Next([]byte("ab\xe2\x82")); s != "ab" {
		t.Fatalf("Next = %q, want \"ab\" with the begun character held", s)
	}
	if s := c.Next([]byte("\xacc")); s != "\u20acc" {
		t.Fatalf("Next = %q, want the completed character", s)
	}
	if s := c.Rest(); s != "" {
		t.Fatalf("Rest = %q, want nothing", s)
	}
}

func TestUTF8ChunkerReplacesInvalidBytes(t *testing.T) {
	var c UTF8Chunker
	// A stray continuation byte and a byte that starts nothing are passed
	// on at once as U+FFFD, not held.
	if s := c.Next([]byte("a\x80b\xff")); s != "a\uFFFDb\uFFFD" {
		t.Fatalf("Next = %q", s)
	}
	// A begun character interrupted by another one is invalid.
	if s := c.Next([]byte("\xe2")); s != "" {
		t.Fatalf("Next = %q, want the begun character held", s)
	}
	if s := c.Next([]byte("x")); s != "\uFFFDx" {
		t.Fatalf("Next = %q, want U+FFFD then x", s)
	}
	// An incomplete character at the end of the stream is flushed as U+FFFD.
	if s := c.Next([]byte("\xf0\x9f\x98")); s != "" {
		t.Fatalf("Next = %q, want the begun character held", s)
	}
	if s := c.Rest(); s != "\uFFFD" {
		t.Fatalf("Rest = %q, want U+FFFD", s)
	}
	if s := c.Rest(); s != "" {
		t.Fatalf("second Rest = %q, want nothing", s)
	}
}

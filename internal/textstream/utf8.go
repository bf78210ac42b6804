package textstream

import (
	"strings"
	"unicode/utf8"
)

// UTF8Chunker turns a byte stream into valid UTF-8 strings chunk by chunk.
// An incomplete multi-byte sequence at a chunk's end is held back until
// the next chunk completes it, so characters split by a read survive;
// other invalid bytes become U+FFFD. Its zero value is ready to use; it is
// for one goroutine.
type UTF8Chunker struct{ carry []byte }

// Next returns the text of p, with what was held back before it, that is
// complete so far. It may be empty.
func (c *UTF8Chunker) Next(p []byte) string {
	buf := append(c.carry, p...)
	cut := completeUTF8(buf)
	c.carry = append(c.carry[:0:0], buf[cut:]...)
	return strings.ToValidUTF8(string(buf[:cut]), "\uFFFD")
}

// Rest returns what is held back, at the end of the stream: an incomplete
// sequence becomes U+FFFD.
func (c *UTF8Chunker) Rest() string {
	s := strings.ToValidUTF8(string(c.carry), "\uFFFD")
	c.carry = nil
	return s
}

// completeUTF8 returns the length of b's prefix that ends on a character
// boundary: a character begun in b's last utf8.UTFMax-1 bytes but not
// finished is left out. A 4-byte window would add nothing, since four
// bytes after a start byte always make a full rune or an invalid one.
func completeUTF8(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-(utf8.UTFMax-1); i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return i
			}
			break
		}
	}
	return len(b)
}

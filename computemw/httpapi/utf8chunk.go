package httpapi

import (
	"strings"
	"unicode/utf8"
)

// utf8Chunker turns a byte stream into valid UTF-8 strings chunk by chunk,
// holding back an incomplete multi-byte sequence at a chunk's end until the
// next chunk completes it, so characters split by a pipe read survive.
type utf8Chunker struct{ carry []byte }

// next returns the text of p that is complete so far.
func (c *utf8Chunker) next(p []byte) string {
	buf := append(c.carry, p...)
	cut := len(buf)
	for i := len(buf) - 1; i >= 0 && i >= len(buf)-utf8.UTFMax; i-- {
		if utf8.RuneStart(buf[i]) {
			if !utf8.FullRune(buf[i:]) {
				cut = i
			}
			break
		}
	}
	c.carry = append(c.carry[:0:0], buf[cut:]...)
	return strings.ToValidUTF8(string(buf[:cut]), "\uFFFD")
}

// rest returns what is held back, at the end of the stream.
func (c *utf8Chunker) rest() string {
	s := strings.ToValidUTF8(string(c.carry), "\uFFFD")
	c.carry = nil
	return s
}

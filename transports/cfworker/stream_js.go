//go:build js && wasm

package cfworker

import (
	"errors"
	"io"
	"syscall/js"
)

var uint8Array = js.Global().Get("Uint8Array")

// errClosed is what Read returns after Close.
var errClosed = errors.New("cfworker: body closed")

// streamReader reads a JavaScript ReadableStream of bytes: a request's or
// a fetch response's body.
type streamReader struct {
	reader js.Value // the stream's ReadableStreamDefaultReader
	buf    []byte   // the rest of the last chunk
	err    error    // sticky: io.EOF, errClosed or the stream's error
	done   func()   // called once, at the end of the stream or on Close
}

// newStreamReader reads stream, a ReadableStream or null (an empty body).
func newStreamReader(stream js.Value, done func()) *streamReader {
	s := &streamReader{done: done}
	if stream.Type() != js.TypeObject {
		s.finish(io.EOF)
		return s
	}
	s.reader = stream.Call("getReader")
	return s
}

func (s *streamReader) finish(err error) {
	if s.err != nil {
		return
	}
	s.err = err
	if s.done != nil {
		s.done()
	}
}

// Read implements io.Reader.
func (s *streamReader) Read(p []byte) (int, error) {
	for len(s.buf) == 0 {
		if s.err != nil {
			return 0, s.err
		}
		res, err := await(s.reader.Call("read"))
		if err != nil {
			s.finish(err)
			return 0, err
		}
		if res.Get("done").Truthy() {
			s.finish(io.EOF)
			return 0, io.EOF
		}
		chunk := res.Get("value")
		if !chunk.InstanceOf(uint8Array) {
			err := errors.New("cfworker: a body stream gave a chunk that is not a Uint8Array")
			s.finish(err)
			return 0, err
		}
		s.buf = make([]byte, chunk.Get("byteLength").Int())
		js.CopyBytesToGo(s.buf, chunk)
	}
	n := copy(p, s.buf)
	s.buf = s.buf[n:]
	return n, nil
}

// Close implements io.Closer: it cancels what is left of the stream.
func (s *streamReader) Close() error {
	if s.err == nil && s.reader.Type() == js.TypeObject {
		// cancel returns a promise; what it settles to is of no use here.
		s.reader.Call("cancel")
	}
	s.buf = nil
	s.finish(errClosed)
	return nil
}

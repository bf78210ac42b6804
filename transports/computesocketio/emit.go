package computesocketio

import (
	"fmt"
	"time"

	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/internal/textstream"
)

// emitter sends events to one client with a bounded window: an event
// takes a place until Engine.IO has written it to the transport, and a
// sender waits while every place is taken. Output of a program therefore
// slows to what the client reads; a client that reads nothing for
// WriteTimeout is disconnected.
type emitter struct {
	c       *conn
	enc     parser.Encoder
	window  chan struct{}
	timeout time.Duration
}

func newEmitter(c *conn, enc parser.Encoder, window int, timeout time.Duration) *emitter {
	return &emitter{c: c, enc: enc, window: make(chan struct{}, window), timeout: timeout}
}

// emit sends event once a place is free; it gives up when the connection
// ends, and ends a connection whose client stalls.
func (e *emitter) emit(event string, payload any) {
	t := time.NewTimer(e.timeout)
	defer t.Stop()
	select {
	case e.window <- struct{}{}:
	case <-e.c.ctx.Done():
		return
	case <-t.C:
		e.c.end(&computemw.Error{Code: computemw.CodeUnavailable,
			Message: fmt.Sprintf("client read nothing for %v", e.timeout)})
		return
	}
	e.write(event, payload, func(transports.Transport) { <-e.window })
}

// emitNow sends event without waiting for a place (a last word before
// the server disconnects the client).
func (e *emitter) emitNow(event string, payload any) {
	e.write(event, payload, nil)
}

// write encodes event as a Socket.IO packet of the main namespace and
// hands it to Engine.IO; sent runs once the transport has written it.
func (e *emitter) write(event string, payload any, sent func(transports.Transport)) {
	bufs := e.enc.Encode(&parser.Packet{Type: parser.EVENT, Nsp: "/", Data: []any{event, payload}})
	for i, b := range bufs {
		var cb func(transports.Transport)
		if i == len(bufs)-1 {
			cb = sent
		}
		e.c.sock.Conn().Write(b, nil, cb)
	}
}

// streamWriter turns a program's or a terminal's output into events,
// keeping multi-byte characters whole across writes.
type streamWriter struct {
	c      *conn
	event  string
	id     string
	stream string
	chunk  textstream.UTF8Chunker
}

func (w *streamWriter) Write(p []byte) (int, error) {
	if err := w.c.ctx.Err(); err != nil {
		return 0, err
	}
	if text := w.chunk.Next(p); text != "" {
		w.send(text)
	}
	return len(p), w.c.ctx.Err()
}

// flush sends what is held back, at the end of the stream.
func (w *streamWriter) flush() {
	if text := w.chunk.Rest(); text != "" {
		w.send(text)
	}
}

func (w *streamWriter) send(data string) {
	w.c.out.emit(w.event, outputEvent{ID: w.id, Stream: w.stream, Data: data})
}

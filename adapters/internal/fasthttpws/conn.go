// Package fasthttpws adapts a fasthttp/websocket connection to the kit's
// WebSocket protocol, for the adapters on fasthttp (Fiber v2 and v3).
package fasthttpws

import (
	"context"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
)

// Conn adapts a fasthttp/websocket connection to httpapi.Conn. The kit
// reads from one goroutine and writes (messages and pings) from another,
// which the connection allows; pongs arrive through the reader.
type Conn struct {
	c     *websocket.Conn
	pongs chan struct{}

	// mu orders a cancelled read's deadline with Close: fasthttp recycles
	// a hijacked connection once its handler returns, so nothing may
	// touch it after Close.
	mu     sync.Mutex
	closed bool
}

// NewConn wraps c; it takes over c's pong handler.
func NewConn(c *websocket.Conn) *Conn {
	w := &Conn{c: c, pongs: make(chan struct{}, 1)}
	c.SetPongHandler(func(string) error {
		select {
		case w.pongs <- struct{}{}:
		default:
		}
		return nil
	})
	return w
}

// Read implements httpapi.Conn.
func (w *Conn) Read(ctx context.Context) ([]byte, error) {
	// The connection has no context: a done ctx ends the read through its
	// deadline.
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(fired)
		w.mu.Lock()
		defer w.mu.Unlock()
		if !w.closed {
			_ = w.c.SetReadDeadline(time.Now())
		}
	})
	defer func() {
		if !stop() {
			<-fired
		}
	}()
	for {
		typ, msg, err := w.c.ReadMessage()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
		if typ == websocket.TextMessage {
			return msg, nil
		}
	}
}

// Write implements httpapi.Conn.
func (w *Conn) Write(ctx context.Context, msg []byte) error {
	deadline, _ := ctx.Deadline()
	if err := w.c.SetWriteDeadline(deadline); err != nil {
		return err
	}
	return w.c.WriteMessage(websocket.TextMessage, msg)
}

// Ping implements httpapi.Conn.
func (w *Conn) Ping(ctx context.Context) error {
	deadline, _ := ctx.Deadline()
	if err := w.c.WriteControl(websocket.PingMessage, nil, deadline); err != nil {
		return err
	}
	select {
	case <-w.pongs:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close implements httpapi.Conn.
func (w *Conn) Close(code int, reason string) error {
	w.mu.Lock()
	if !w.closed {
		// A pending read ends now: closing a hijacked connection does not
		// wake it, and after Close its deadline can no longer be set.
		_ = w.c.SetReadDeadline(time.Now())
		w.closed = true
	}
	w.mu.Unlock()
	msg := websocket.FormatCloseMessage(code, reason)
	_ = w.c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	return w.c.Close()
}

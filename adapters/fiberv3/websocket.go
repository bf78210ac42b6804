package computefiber

import (
	"context"
	"net/http"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/fasthttp/websocket"
	"github.com/gofiber/fiber/v3"
	"github.com/valyala/fasthttp"
)

// WebSocket returns the handler of the kit's WebSocket protocol (GET /ws).
// Policies run before the upgrade, so a refused client gets a plain HTTP
// error. The connection then runs after the handler has returned, on
// fasthttp's hijacked connection: it owns the sandbox the client creates
// and destroys it when the connection closes, and it holds nothing of the
// fiber.Ctx. upgrader may be nil: same-origin clients only.
func WebSocket(kit *computemw.Kit, upgrader *websocket.FastHTTPUpgrader) fiber.Handler {
	if upgrader == nil {
		upgrader = &websocket.FastHTTPUpgrader{}
		if kit.ChecksOrigins() {
			// The kit has checked the Origin against its own lists.
			upgrader.CheckOrigin = func(*fasthttp.RequestCtx) bool { return true }
		}
	}
	limit := int64(kit.Config().WebSocket.MaxMessageBytes) + 1
	return func(c fiber.Ctx) error {
		// The header is copied: every message is admitted with it after
		// this handler has returned and fasthttp has reused c.
		ctx, err := kit.AdmitWebSocket(c.Context(), &computemw.Request{
			Method: c.Method(), Header: copyHeader(c), RemoteAddr: c.RequestCtx().RemoteAddr().String(),
			Host: string(c.Request().Host()),
		})
		if err != nil {
			return write(c, kit.ErrorResponse(ctx, err, headerOf(c)))
		}
		// A failed handshake has been answered by the upgrader.
		_ = upgrader.Upgrade(c.RequestCtx(), func(conn *websocket.Conn) {
			conn.SetReadLimit(limit)
			_ = kit.ServeConn(ctx, newWSConn(conn))
		})
		return nil
	}
}

// wsConn adapts a fasthttp/websocket connection to computemw.Conn. The kit
// reads from one goroutine and writes (messages and pings) from another,
// which the connection allows; pongs arrive through the reader.
type wsConn struct {
	c     *websocket.Conn
	pongs chan struct{}
}

func newWSConn(c *websocket.Conn) *wsConn {
	w := &wsConn{c: c, pongs: make(chan struct{}, 1)}
	c.SetPongHandler(func(string) error {
		select {
		case w.pongs <- struct{}{}:
		default:
		}
		return nil
	})
	return w
}

func (w *wsConn) Read(ctx context.Context) ([]byte, error) {
	// The connection has no context: a done ctx ends the read through its
	// deadline.
	stop := context.AfterFunc(ctx, func() { _ = w.c.SetReadDeadline(time.Now()) })
	defer stop()
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

func (w *wsConn) Write(ctx context.Context, msg []byte) error {
	deadline, _ := ctx.Deadline()
	if err := w.c.SetWriteDeadline(deadline); err != nil {
		return err
	}
	return w.c.WriteMessage(websocket.TextMessage, msg)
}

func (w *wsConn) Ping(ctx context.Context) error {
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

func (w *wsConn) Close(code int, reason string) error {
	msg := websocket.FormatCloseMessage(code, reason)
	_ = w.c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	return w.c.Close()
}

// copyHeader copies the request's headers into an http.Header.
func copyHeader(c fiber.Ctx) http.Header {
	h := make(http.Header)
	for k, v := range c.Request().Header.All() {
		h.Add(string(k), string(v))
	}
	return h
}

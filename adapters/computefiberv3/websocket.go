package computefiberv3

import (
	"net/http"

	"github.com/computemw/kit/adapters/internal/fasthttpws"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/httpapi"
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
	api := httpapi.New(kit)
	if upgrader == nil {
		upgrader = &websocket.FastHTTPUpgrader{}
		if api.ChecksOrigins() {
			// The kit has checked the Origin against its own lists.
			upgrader.CheckOrigin = func(*fasthttp.RequestCtx) bool { return true }
		}
	}
	limit := int64(kit.Config().WebSocket.MaxMessageBytes) + 1
	return func(c fiber.Ctx) error {
		// The header is copied: every message is admitted with it after
		// this handler has returned and fasthttp has reused c.
		ctx, err := api.AdmitWebSocket(c.Context(), &computemw.Request{
			Method: c.Method(), Header: copyHeader(c), RemoteAddr: c.RequestCtx().RemoteAddr().String(),
			Host: string(c.Request().Host()),
		})
		if err != nil {
			return write(c, api.ErrorResponse(ctx, err, headerOf(c)))
		}
		// A failed handshake has been answered by the upgrader.
		_ = upgrader.Upgrade(c.RequestCtx(), func(conn *websocket.Conn) {
			conn.SetReadLimit(limit)
			_ = api.ServeConn(ctx, fasthttpws.NewConn(conn))
		})
		return nil
	}
}

// copyHeader copies the request's headers into an http.Header.
func copyHeader(c fiber.Ctx) http.Header {
	h := make(http.Header)
	for k, v := range c.Request().Header.All() {
		h.Add(string(k), string(v))
	}
	return h
}

package adapterkit

import (
	"context"
	"net/http"

	"github.com/coder/websocket"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/httpapi"
)

// WebSocket serves the kit's WebSocket protocol (GET /ws): policies run
// before the upgrade, so a refused client gets a plain HTTP error; then the
// connection owns one sandbox at a time, destroyed when it closes. opts may
// be nil: origins are then checked by the kit (Config.AllowedOrigins and
// AllowedHosts) when it has a list, else same-origin pages only.
func WebSocket(kit *computemw.Kit, opts *websocket.AcceptOptions) http.Handler {
	api := httpapi.New(kit)
	if opts == nil && api.ChecksOrigins() {
		// The kit has checked the Origin against its own lists.
		opts = &websocket.AcceptOptions{InsecureSkipVerify: true}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, err := api.AdmitWebSocket(r.Context(), Request(r, nil, nil))
		if err != nil {
			Write(ctx, w, api.ErrorResponse(ctx, err, r.Header))
			return
		}
		c, err := websocket.Accept(w, r, opts)
		if err != nil {
			return // Accept has answered the client
		}
		c.SetReadLimit(int64(kit.Config().WebSocket.MaxMessageBytes) + 1)
		_ = api.ServeConn(ctx, wsConn{c})
	})
}

// wsConn adapts a coder/websocket connection to httpapi.Conn.
type wsConn struct{ c *websocket.Conn }

func (w wsConn) Read(ctx context.Context) ([]byte, error) {
	for {
		typ, msg, err := w.c.Read(ctx)
		if err != nil {
			return nil, err
		}
		if typ == websocket.MessageText {
			return msg, nil
		}
	}
}

func (w wsConn) Write(ctx context.Context, msg []byte) error {
	return w.c.Write(ctx, websocket.MessageText, msg)
}

func (w wsConn) Ping(ctx context.Context) error { return w.c.Ping(ctx) }

func (w wsConn) Close(code int, reason string) error {
	return w.c.Close(websocket.StatusCode(code), reason)
}

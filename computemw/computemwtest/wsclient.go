package computemwtest

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/computemw/kit/computemw/httpapi"
)

// WSClient speaks the kit's WebSocket protocol to a server under test.
type WSClient struct {
	t   testing.TB
	ctx context.Context
	// Conn is the underlying connection.
	Conn *websocket.Conn
}

// DialWS connects to the route group's /ws at base (the server's
// "http://..." URL) with header. On a refused handshake it returns the
// server's response and the error.
func DialWS(t testing.TB, ctx context.Context, base string, header http.Header) (*WSClient, *http.Response, error) {
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+Prefix+"/ws", &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		return nil, resp, err
	}
	return &WSClient{t: t, ctx: ctx, Conn: c}, resp, nil
}

// Send sends one message, failing the test if it cannot.
func (c *WSClient) Send(m httpapi.WSMessage) {
	c.t.Helper()
	b, _ := json.Marshal(m)
	if err := c.Conn.Write(c.ctx, websocket.MessageText, b); err != nil {
		c.t.Fatal(err)
	}
}

// Next reads the next message, failing the test if it cannot.
func (c *WSClient) Next() httpapi.WSMessage {
	c.t.Helper()
	_, b, err := c.Conn.Read(c.ctx)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	var m httpapi.WSMessage
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("%s: %v", b, err)
	}
	return m
}

package graphql_test

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/transports/graphql"
)

// TestOperationsPerConnection: every operation on a WebSocket connection
// takes one of its places, queries and mutations as subscriptions do, so
// a connection runs at most MaxOperationsPerConn programs at once.
func TestOperationsPerConnection(t *testing.T) {
	kit, fake := computemwtest.SuiteKit(t, computemw.Config{})
	base := serve(t, kit, graphql.Options{MaxOperationsPerConn: 2})
	cl, _, err := dialWS(t, base, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	const blocking = `mutation { runCommand(command: "block") { output } }`
	cl.subscribe("1", blocking, nil)
	cl.subscribe("2", blocking, nil)
	<-fake.Started()
	<-fake.Started()
	cl.subscribe("3", blocking, nil)
	if _, errs := cl.collect("3"); len(errs) != 1 || errs[0].Code() != "RATE_LIMITED" {
		t.Errorf("a third mutation on a connection capped at 2: %+v", errs)
	}
	cl.subscribe("4", `{ __typename }`, nil)
	if _, errs := cl.collect("4"); len(errs) != 1 || errs[0].Code() != "RATE_LIMITED" {
		t.Errorf("a query on a full connection: %+v", errs)
	}
	if fake.Created() != 2 {
		t.Errorf("%d sandboxes created, want 2", fake.Created())
	}

	// Stopping one frees its place once its program has ended.
	cl.send(wsMsg{Type: "complete", ID: "1"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		m, err := cl.read(ctx)
		if err != nil {
			t.Fatalf("waiting for mutation 1 to end: %v", err)
		}
		if m.ID != "1" {
			t.Fatalf("message of another operation: %+v", m)
		}
		if m.Type == "complete" || m.Type == "error" {
			break
		}
	}
	cl.subscribe("5", `{ __typename }`, nil)
	if _, errs := cl.collect("5"); len(errs) != 0 {
		t.Errorf("a query once a place is free: %+v", errs)
	}
}

// dialRaw opens a graphql-transport-ws connection and sends nothing. It
// returns the HTTP status of a refused upgrade.
func dialRaw(t *testing.T, base string, opts *websocket.DialOptions) (*websocket.Conn, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts.Subprotocols = []string{"graphql-transport-ws"}
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/graphql", opts)
	if err != nil {
		if resp == nil {
			t.Fatalf("dial: %v", err)
		}
		return nil, resp.StatusCode
	}
	t.Cleanup(func() { c.CloseNow() })
	return c, http.StatusSwitchingProtocols
}

func from(addr string) *websocket.DialOptions {
	return &websocket.DialOptions{HTTPHeader: http.Header{"X-Forwarded-For": {addr}}}
}

// TestPendingConnections: connections that have not sent connection_init
// are capped, per client address and in all, and closed after
// InitTimeout; their places are then free again. The upgrade's Host is
// checked before any of it.
func TestPendingConnections(t *testing.T) {
	kit, _ := computemwtest.SuiteKit(t, computemw.Config{
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		AllowedHosts:   []string{"127.0.0.1"},
	})
	capped := serve(t, kit, graphql.Options{MaxPendingConns: 2, MaxPendingConnsPerAddr: 1, InitTimeout: time.Minute})
	if _, status := dialRaw(t, capped, from("10.0.0.1")); status != http.StatusSwitchingProtocols {
		t.Fatalf("first connection: %d", status)
	}
	if _, status := dialRaw(t, capped, from("10.0.0.1")); status != http.StatusTooManyRequests {
		t.Errorf("second pending connection of one address: %d, want 429", status)
	}
	if _, status := dialRaw(t, capped, from("10.0.0.2")); status != http.StatusSwitchingProtocols {
		t.Errorf("another address: %d", status)
	}
	if _, status := dialRaw(t, capped, from("10.0.0.3")); status != http.StatusServiceUnavailable {
		t.Errorf("third pending connection in all: %d, want 503", status)
	}
	if _, status := dialRaw(t, capped, &websocket.DialOptions{Host: "evil.example"}); status != http.StatusForbidden {
		t.Errorf("a host not served: %d, want 403", status)
	}

	// A connection that sends no connection_init is closed after the
	// InitTimeout, and its place given back.
	timed := serve(t, kit, graphql.Options{MaxPendingConns: 1, InitTimeout: 50 * time.Millisecond})
	c, status := dialRaw(t, timed, from("10.0.0.4"))
	if status != http.StatusSwitchingProtocols {
		t.Fatalf("connection: %d", status)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, _, err := c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusProtocolError {
		t.Errorf("a connection without connection_init: %v, want closed by the server", err)
	}
	var next *websocket.Conn
	waitFor(t, "the closed connection's place given back", func() bool {
		next, status = dialRaw(t, timed, from("10.0.0.5"))
		return status == http.StatusSwitchingProtocols
	})
	// Sending connection_init gives the place back at once.
	if err := next.Write(ctx, websocket.MessageText, []byte(`{"type":"connection_init"}`)); err != nil {
		t.Fatal(err)
	}
	if _, b, err := next.Read(ctx); err != nil || !strings.Contains(string(b), "connection_ack") {
		t.Fatalf("after connection_init: %s %v", b, err)
	}
	if _, status := dialRaw(t, timed, from("10.0.0.6")); status != http.StatusSwitchingProtocols {
		t.Errorf("after the pending connection was initialised: %d", status)
	}
}

// TestWebSocketDocumentsAdmitted: each document on a WebSocket is
// admitted before it is parsed, as a POST is: the rate limiter counts it.
func TestWebSocketDocumentsAdmitted(t *testing.T) {
	// A limit of 3: connection_init and two documents.
	kit, _ := computemwtest.PolicyKit(t, computemwtest.PolicyOptions{RateLimit: 3})
	base := serve(t, kit, graphql.Options{})
	cl, _, err := dialWS(t, base, nil, map[string]any{"X-API-Key": computemwtest.PolicyAPIKey})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"1", "2"} {
		cl.subscribe(id, `{ __typename }`, nil)
		if _, errs := cl.collect(id); len(errs) != 0 {
			t.Fatalf("document %s: %+v", id, errs)
		}
	}
	cl.subscribe("3", `{ __typename }`, nil)
	if _, errs := cl.collect("3"); len(errs) != 1 || errs[0].Code() != "RATE_LIMITED" {
		t.Errorf("a document over the rate limit: %+v", errs)
	}
}

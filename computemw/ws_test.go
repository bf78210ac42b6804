package computemw_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/computemw/kit/computemw/ratelimit"
	"github.com/ulule/limiter/v3"
)

// memConn is an in-memory httpapi.Conn: the test plays the client.
type memConn struct {
	in      chan []byte // client → server
	out     chan []byte // server → client
	closed  chan struct{}
	once    sync.Once
	stalled bool // Write blocks until the context ends: a client that reads nothing
}

func newMemConn() *memConn {
	return &memConn{in: make(chan []byte, 16), out: make(chan []byte, 1024), closed: make(chan struct{})}
}

func (c *memConn) Read(ctx context.Context) ([]byte, error) {
	select {
	case m := <-c.in:
		return m, nil
	case <-c.closed:
		return nil, io.EOF
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *memConn) Write(ctx context.Context, msg []byte) error {
	if c.stalled {
		<-ctx.Done()
		return ctx.Err()
	}
	select {
	case c.out <- msg:
		return nil
	case <-c.closed:
		return errors.New("closed")
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *memConn) Ping(ctx context.Context) error { return nil }

func (c *memConn) Close(int, string) error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *memConn) send(t *testing.T, m httpapi.WSMessage) {
	t.Helper()
	b, _ := json.Marshal(m)
	c.in <- b
}

// next returns the next server message, failing after a bound.
func (c *memConn) next(t *testing.T) httpapi.WSMessage {
	t.Helper()
	select {
	case b := <-c.out:
		var m httpapi.WSMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("server sent %s: %v", b, err)
		}
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message from the server")
		return httpapi.WSMessage{}
	}
}

func (c *memConn) expect(t *testing.T, typ string) httpapi.WSMessage {
	t.Helper()
	m := c.next(t)
	if m.Type != typ {
		t.Fatalf("got %+v, want a %q message", m, typ)
	}
	return m
}

func startConn(t *testing.T, kit *computemw.Kit) (*memConn, chan error) {
	conn := newMemConn()
	done := make(chan error, 1)
	go func() { done <- httpapi.New(kit).ServeConn(context.Background(), conn) }()
	return conn, done
}

func TestWebSocketProtocol(t *testing.T) {
	kit, fake := newKit(t, computemw.Config{})
	conn, done := startConn(t, kit)

	conn.send(t, httpapi.WSMessage{Type: "execute", Command: "echo x"})
	if m := conn.expect(t, "error"); m.Message != "No active sandbox" || m.Code != "BAD_REQUEST" {
		t.Errorf("execute without sandbox: %+v", m)
	}
	conn.in <- []byte(`{"type":`)
	if m := conn.expect(t, "error"); m.Code != "BAD_REQUEST" {
		t.Errorf("malformed: %+v", m)
	}
	conn.send(t, httpapi.WSMessage{Type: "launch-missiles"})
	conn.expect(t, "error")

	conn.send(t, httpapi.WSMessage{Type: "create-sandbox"})
	ready := conn.expect(t, "sandbox-ready")
	if ready.SandboxID == "" || fake.Live() != 1 {
		t.Fatalf("sandbox-ready %+v, live %d", ready, fake.Live())
	}
	conn.send(t, httpapi.WSMessage{Type: "create-sandbox"})
	conn.expect(t, "error") // one per connection

	conn.send(t, httpapi.WSMessage{Type: "execute", Command: "lines 3"})
	for i := 1; i <= 3; i++ {
		m := conn.expect(t, "output")
		if m.Stream != "stdout" || m.Data != "line "+string(rune('0'+i))+"\n" {
			t.Fatalf("chunk %d: %+v", i, m)
		}
	}
	if m := conn.expect(t, "execution-complete"); m.ExitCode == nil || *m.ExitCode != 0 {
		t.Fatalf("complete: %+v", m)
	}

	conn.send(t, httpapi.WSMessage{Type: "execute", Language: "python", Code: "readline"})
	conn.send(t, httpapi.WSMessage{Type: "stdin", Data: "typed\n"})
	if m := conn.expect(t, "output"); m.Data != "typed\n" {
		t.Fatalf("stdin echo: %+v", m)
	}
	conn.expect(t, "execution-complete")

	conn.send(t, httpapi.WSMessage{Type: "execute", Command: "exit 4"})
	if m := conn.expect(t, "execution-complete"); *m.ExitCode != 4 {
		t.Fatalf("exit code: %+v", m)
	}

	conn.send(t, httpapi.WSMessage{Type: "terminal-start", Cols: 100, Rows: 30})
	conn.send(t, httpapi.WSMessage{Type: "terminal-input", Data: "ls\n"})
	if m := conn.expect(t, "terminal-output"); m.Data != "echo:ls\n" {
		t.Fatalf("terminal: %+v", m)
	}
	conn.send(t, httpapi.WSMessage{Type: "terminal-resize", Cols: 120, Rows: 40})
	if m := conn.expect(t, "terminal-output"); m.Data != "size 40 120\n" {
		t.Fatalf("resize: %+v", m)
	}

	conn.send(t, httpapi.WSMessage{Type: "destroy-sandbox"})
	conn.expect(t, "terminal-exit")
	if !fake.WaitLive(0, 10*time.Second) {
		t.Fatal("destroy-sandbox left the sandbox")
	}
	conn.Close(httpapi.CloseNormal, "")
	if err := <-done; err != nil {
		t.Errorf("ServeConn: %v", err)
	}
}

func TestWebSocketCloseMidRunDestroys(t *testing.T) {
	kit, fake := newKit(t, computemw.Config{})
	conn, done := startConn(t, kit)
	conn.send(t, httpapi.WSMessage{Type: "create-sandbox"})
	conn.expect(t, "sandbox-ready")
	conn.send(t, httpapi.WSMessage{Type: "execute", Command: "block"})
	<-fake.Started()
	conn.Close(httpapi.CloseNormal, "")
	if err := <-done; err != nil {
		t.Errorf("ServeConn: %v", err)
	}
	if fake.Live() != 0 {
		t.Errorf("%d sandboxes left after the client went away", fake.Live())
	}
}

func TestWebSocketStalledClientIsDropped(t *testing.T) {
	kit, fake := newKit(t, computemw.Config{WebSocket: computemw.WSConfig{WriteTimeout: 100 * time.Millisecond, SendQueue: 4}})
	conn := newMemConn()
	conn.stalled = true
	done := make(chan error, 1)
	go func() { done <- httpapi.New(kit).ServeConn(context.Background(), conn) }()
	conn.send(t, httpapi.WSMessage{Type: "create-sandbox"})
	conn.send(t, httpapi.WSMessage{Type: "execute", Command: "lines 100000"})
	select {
	case err := <-done:
		if err == nil {
			t.Error("a stalled client ended without an error")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("stalled client never dropped")
	}
	if fake.Live() != 0 {
		t.Errorf("%d sandboxes left after dropping a stalled client", fake.Live())
	}
}

// Input for a program that does not read is refused past a bounded
// backlog, instead of piling up on the server.
func TestWebSocketStdinBacklogIsBounded(t *testing.T) {
	kit, fake := newKit(t, computemw.Config{})
	conn, done := startConn(t, kit)
	conn.send(t, httpapi.WSMessage{Type: "create-sandbox"})
	conn.expect(t, "sandbox-ready")
	conn.send(t, httpapi.WSMessage{Type: "execute", Command: "block"})
	<-fake.Started()
	for range 200 {
		conn.send(t, httpapi.WSMessage{Type: "stdin", Data: "x\n"})
	}
	if m := conn.expect(t, "error"); m.Code != "BAD_REQUEST" {
		t.Errorf("got %+v", m)
	}
	// Closing with refusals still queued may end the writer with a
	// write error rather than the reader with EOF: either is fine here.
	conn.Close(httpapi.CloseNormal, "")
	<-done
	if fake.Live() != 0 {
		t.Errorf("%d sandboxes left", fake.Live())
	}
}

// Over a WebSocket every execution is admitted like a request of its own:
// rate limits count each one, not only the upgrade.
func TestWebSocketMessagesAreRateLimited(t *testing.T) {
	rl, err := ratelimit.New(ratelimit.Config{Tiers: map[string]limiter.Rate{"free": {Period: time.Hour, Limit: 3}}})
	if err != nil {
		t.Fatal(err)
	}
	kit, _ := newKit(t, computemw.Config{Policies: []computemw.Policy{rl}})
	conn := newMemConn()
	done := make(chan error, 1)
	ctx := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "alice", Plan: "free"})
	ctx, err = httpapi.New(kit).AdmitWebSocket(ctx, &computemw.Request{Method: "GET", Header: http.Header{}})
	if err != nil {
		t.Fatal(err)
	}
	go func() { done <- httpapi.New(kit).ServeConn(ctx, conn) }()
	conn.send(t, httpapi.WSMessage{Type: "create-sandbox"})
	conn.expect(t, "sandbox-ready")
	conn.send(t, httpapi.WSMessage{Type: "execute", Command: "echo 1"})
	conn.expect(t, "output")
	conn.expect(t, "execution-complete")
	// The upgrade, the creation and one execution used the 3 allowed.
	conn.send(t, httpapi.WSMessage{Type: "execute", Command: "echo 2"})
	if m := conn.expect(t, "error"); m.Code != "RATE_LIMITED" {
		t.Errorf("fourth admission: %+v", m)
	}
	conn.Close(httpapi.CloseNormal, "")
	<-done
}

// A connection's sandbox counts in the session books: one caller cannot
// hold every sandbox through WebSockets.
func TestWebSocketSandboxesCountAsSessions(t *testing.T) {
	kit, fake := newKit(t, computemw.Config{MaxSessionsPerPrincipal: 2})
	ctx := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "alice"})
	if r := computemwtest.ServePath(ctx, kit, http.MethodPost, "/sandboxes", `{}`, nil); r.Status != 201 {
		t.Fatalf("session: %d %s", r.Status, r.Body)
	}
	open := func() (*memConn, chan error) {
		wctx, err := httpapi.New(kit).AdmitWebSocket(ctx, &computemw.Request{Method: http.MethodGet})
		if err != nil {
			t.Fatal(err)
		}
		conn := newMemConn()
		done := make(chan error, 1)
		go func() { done <- httpapi.New(kit).ServeConn(wctx, conn) }()
		conn.send(t, httpapi.WSMessage{Type: "create-sandbox"})
		return conn, done
	}
	c1, d1 := open()
	c1.expect(t, "sandbox-ready")
	c2, d2 := open()
	if m := c2.expect(t, "error"); m.Code != string(computemw.CodeRateLimited) {
		t.Errorf("third sandbox of one caller: %+v", m)
	}
	if fake.Live() != 2 {
		t.Errorf("%d sandboxes live, want 2", fake.Live())
	}
	c1.Close(httpapi.CloseNormal, "")
	<-d1
	// The place is given back with the connection.
	c2.send(t, httpapi.WSMessage{Type: "create-sandbox"})
	c2.expect(t, "sandbox-ready")
	c2.Close(httpapi.CloseNormal, "")
	<-d2
}

// A connection ends at its lifetime, and when idle, destroying its sandbox.
// The limits leave a loaded machine ample time to make the sandbox first.
func TestWebSocketLifetimes(t *testing.T) {
	for name, ws := range map[string]computemw.WSConfig{
		"lifetime": {MaxLifetime: 2 * time.Second},
		"idle":     {IdleTimeout: 2 * time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			kit, fake := newKit(t, computemw.Config{WebSocket: ws})
			conn, done := startConn(t, kit)
			conn.send(t, httpapi.WSMessage{Type: "create-sandbox"})
			conn.expect(t, "sandbox-ready")
			select {
			case err := <-done:
				if computemw.AsError(err).Code != computemw.CodeUnavailable {
					t.Errorf("ServeConn: %v", err)
				}
			case <-time.After(time.Minute):
				t.Fatal("the connection outlived its limit")
			}
			if fake.Live() != 0 {
				t.Errorf("%d sandboxes left", fake.Live())
			}
		})
	}
}

// One caller cannot hold WebSocket connections without bound: past its cap
// a new connection gets an error and is closed; the place comes back when
// one closes.
func TestWebSocketConnectionsPerCaller(t *testing.T) {
	kit, _ := newKit(t, computemw.Config{WebSocket: computemw.WSConfig{MaxConnsPerCaller: 2}})
	ctx := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "alice"})
	open := func(ctx context.Context) (*memConn, chan error) {
		wctx, err := httpapi.New(kit).AdmitWebSocket(ctx, &computemw.Request{Method: http.MethodGet})
		if err != nil {
			t.Fatal(err)
		}
		conn := newMemConn()
		done := make(chan error, 1)
		go func() { done <- httpapi.New(kit).ServeConn(wctx, conn) }()
		return conn, done
	}
	c1, d1 := open(ctx)
	c2, d2 := open(ctx)
	// Both are served: each answers a message.
	for _, c := range []*memConn{c1, c2} {
		c.send(t, httpapi.WSMessage{Type: "bogus"})
		c.expect(t, "error")
	}
	c3, d3 := open(ctx)
	if m := c3.expect(t, "error"); m.Code != string(computemw.CodeRateLimited) {
		t.Errorf("third connection: %+v", m)
	}
	if err := <-d3; computemw.AsError(err).Code != computemw.CodeRateLimited {
		t.Errorf("third ServeConn: %v", err)
	}
	// Another caller has its own places.
	c4, d4 := open(computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "bob"}))
	c4.send(t, httpapi.WSMessage{Type: "bogus"})
	c4.expect(t, "error")
	for _, c := range []*memConn{c1, c2, c4} {
		c.Close(httpapi.CloseNormal, "")
	}
	<-d1
	<-d2
	<-d4
	c5, d5 := open(ctx)
	c5.send(t, httpapi.WSMessage{Type: "bogus"})
	if m := c5.expect(t, "error"); m.Code != string(computemw.CodeBadRequest) {
		t.Errorf("after the others closed: %+v", m)
	}
	c5.Close(httpapi.CloseNormal, "")
	<-d5
}

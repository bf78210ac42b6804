package adapters_test

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/httpapi"
)

// activeConnections reads the kit's compute_active_connections gauge: the
// WebSocket and streaming clients the server is serving right now.
func activeConnections(t *testing.T, kit *computemw.Kit) float64 {
	t.Helper()
	mfs, err := computemwtest.Registry(t, kit).Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "compute_active_connections" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("no compute_active_connections metric")
	return 0
}

// TestWebSocketBackpressure connects a client that starts a program
// printing without end and then reads nothing. The server's send queue
// fills, the program blocks on its pipe instead of the server buffering,
// and after WriteTimeout the server drops the client and destroys its
// sandbox — within a bounded time, with the heap bounded meanwhile.
func TestWebSocketBackpressure(t *testing.T) {
	for _, a := range []int{0, 3, 5} { // net/http, fiber and fiber v3: the two server stacks
		a := adapters[a]
		t.Run(a.Name, func(t *testing.T) {
			kit := localKit(t, computemw.Config{WebSocket: computemw.WSConfig{WriteTimeout: time.Second, SendQueue: 8}})
			base := a.Start(t, kit)
			var before, now runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)

			ws := dialWS(t, base)
			// The server handles messages in order: execute runs once
			// create-sandbox is done, so the client need not read between.
			ws.send(httpapi.WSMessage{Type: "create-sandbox"})
			ws.send(httpapi.WSMessage{Type: "execute", Command: "yes"})
			start := time.Now()
			waitFor(t, func() bool { return kit.Stats().Live == 1 })

			// Poll the server's state while `yes` runs against a client
			// that reads nothing, and track the heap's peak meanwhile.
			var peak uint64
			deadline := start.Add(30 * time.Second)
			for kit.Stats().Live != 0 || activeConnections(t, kit) != 0 {
				if time.Now().After(deadline) {
					t.Fatalf("stalled client still served after 30s: %d sandboxes, %v connections",
						kit.Stats().Live, activeConnections(t, kit))
				}
				runtime.ReadMemStats(&now)
				peak = max(peak, now.HeapAlloc)
				time.Sleep(10 * time.Millisecond)
			}
			dropped := time.Since(start)
			if grown := int64(peak) - int64(before.HeapAlloc); grown > 64<<20 {
				t.Errorf("heap grew by %d MiB while the client read nothing", grown>>20)
			}

			// The client now finds the data that fitted in the socket
			// buffers, then the end of the connection (not its own
			// deadline).
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			t.Cleanup(cancel)
			var received int64
			var err error
			for err == nil {
				var b []byte
				_, b, err = ws.c.Read(ctx)
				received += int64(len(b))
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("the server never closed the connection: %v", err)
			}
			t.Logf("dropped after %v; the client had %d KiB waiting; heap peak +%d KiB",
				dropped.Round(time.Millisecond), received>>10, (int64(peak)-int64(before.HeapAlloc))>>10)
		})
	}
}

// TestWebSocketPing configures a ping every 200ms: a client that answers
// pings (coder/websocket does while a Read is pending) stays connected
// through an idle period longer than a ping interval and the pong timeout
// (WriteTimeout) together, and can still run a command; one that never
// reads, and so never answers, is dropped and its sandbox destroyed. The
// answering client's pong timeout is generous (3s), so that a loaded
// machine answering late is not taken for a client that left.
func TestWebSocketPing(t *testing.T) {
	answering := computemw.Config{WebSocket: computemw.WSConfig{PingInterval: 200 * time.Millisecond, WriteTimeout: 3 * time.Second}}
	silent := computemw.Config{WebSocket: computemw.WSConfig{PingInterval: 200 * time.Millisecond, WriteTimeout: 500 * time.Millisecond}}
	const idle = 4 * time.Second // > PingInterval + WriteTimeout: an unanswered ping has failed by then
	for _, a := range []int{0, 3, 5} {
		a := adapters[a]
		t.Run(a.Name+"/answers", func(t *testing.T) {
			kit := localKit(t, answering)
			ws := dialWS(t, a.Start(t, kit))
			ws.send(httpapi.WSMessage{Type: "create-sandbox"})
			if m := ws.next(); m.Type != "sandbox-ready" {
				t.Fatalf("got %+v", m)
			}

			// One reader for the rest of the connection: its pending Read
			// answers the server's pings.
			type read struct {
				m   httpapi.WSMessage
				err error
			}
			msgs := make(chan read, 16)
			done := make(chan struct{})
			go func() {
				for {
					_, b, err := ws.c.Read(ws.ctx)
					var r read
					if r.err = err; err == nil {
						r.err = json.Unmarshal(b, &r.m)
					}
					select {
					case msgs <- r:
					case <-done:
						return
					}
					if err != nil {
						return
					}
				}
			}()
			t.Cleanup(func() { close(done); ws.c.CloseNow() })
			recv := func() httpapi.WSMessage {
				t.Helper()
				select {
				case r := <-msgs:
					if r.err != nil {
						t.Fatalf("read: %v", r.err)
					}
					return r.m
				case <-ws.ctx.Done():
					t.Fatal("no message before the test's deadline")
				}
				return httpapi.WSMessage{}
			}

			// The idle period is what is under test: nothing may arrive,
			// in particular not the end of the connection.
			timer := time.NewTimer(idle)
			select {
			case r := <-msgs:
				t.Fatalf("while idle: %+v %v", r.m, r.err)
			case <-timer.C:
			}
			if n := kit.Stats().Live; n != 1 {
				t.Fatalf("after %v idle: %d sandboxes", idle, n)
			}
			ws.send(httpapi.WSMessage{Type: "execute", Command: "echo still-here"})
			if m := recv(); m.Type != "output" || m.Data != "still-here\n" {
				t.Fatalf("got %+v", m)
			}
			if m := recv(); m.Type != "execution-complete" || *m.ExitCode != 0 {
				t.Fatalf("got %+v", m)
			}
		})
		t.Run(a.Name+"/silent", func(t *testing.T) {
			kit := localKit(t, silent)
			ws := dialWS(t, a.Start(t, kit))
			ws.send(httpapi.WSMessage{Type: "create-sandbox"})
			if m := ws.next(); m.Type != "sandbox-ready" {
				t.Fatalf("got %+v", m)
			}
			start := time.Now()
			// No Read from here on: pings go unanswered.
			waitFor(t, func() bool { return kit.Stats().Live == 0 && activeConnections(t, kit) == 0 })
			t.Logf("silent client dropped after %v", time.Since(start).Round(time.Millisecond))
		})
	}
}

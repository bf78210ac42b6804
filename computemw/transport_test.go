package computemw_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
)

// connHooks counts the connections reported open.
type connHooks struct {
	computemw.NopHooks
	open atomic.Int64
}

func (h *connHooks) ConnectionOpened(context.Context, computemw.Op) { h.open.Add(1) }
func (h *connHooks) ConnectionClosed(context.Context, computemw.Op) { h.open.Add(-1) }

// What a transport of its own uses: the host and origin rules of the
// kit's routes and WebSocket, and connections counted once each.
func TestTransportExports(t *testing.T) {
	hooks := &connHooks{}
	kit, _ := computemwtest.SuiteKit(t, computemw.Config{Hooks: []computemw.Hooks{hooks},
		AllowedHosts: []string{"app.example"}, AllowedOrigins: []string{"https://front.example"}})
	for host, want := range map[string]bool{"app.example": true, "app.example:8080": true, "evil.example": false} {
		if got := kit.HostAllowed(host); got != want {
			t.Errorf("HostAllowed(%q) = %v", host, got)
		}
	}
	for origin, want := range map[string]bool{"": true, "https://front.example": true, "https://evil.example": false} {
		if got := kit.OriginAllowed(origin); got != want {
			t.Errorf("OriginAllowed(%q) = %v", origin, got)
		}
	}
	done := kit.TrackConnection(context.Background(), computemw.OpWebSocket)
	if n := hooks.open.Load(); n != 1 {
		t.Fatalf("%d connections open after TrackConnection", n)
	}
	done()
	done()
	if n := hooks.open.Load(); n != 0 {
		t.Errorf("%d connections open after done twice", n)
	}
}

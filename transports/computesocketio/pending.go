package computesocketio

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"github.com/computemw/kit/computemw"
)

// pendingGate bounds the Engine.IO sessions that have not been admitted
// yet (the handshake made them; the Socket.IO connect, where the kit
// authenticates, has not succeeded): at most max in all and perClient per
// client address. A place is taken before the Engine.IO server sees the
// handshake and given back when the session is admitted or closes, or
// when the handshake made no session.
type pendingGate struct {
	max, perClient int
	retryAfter     time.Duration

	mu       sync.Mutex
	total    int
	byClient map[netip.Prefix]int
}

func newPendingGate(max, perClient int, retryAfter time.Duration) *pendingGate {
	return &pendingGate{max: max, perClient: perClient, retryAfter: retryAfter, byClient: make(map[netip.Prefix]int)}
}

// clientKey is the bucket of a client address: the address itself for
// IPv4, its /64 for IPv6 (one host commonly holds a whole /64); every
// unknown address shares the zero bucket.
func clientKey(ip netip.Addr) netip.Prefix {
	switch {
	case ip.Is4():
		return netip.PrefixFrom(ip, 32)
	case ip.Is6():
		p, _ := ip.Prefix(64)
		return p
	default:
		return netip.Prefix{}
	}
}

// take holds a place for a handshake from client, or refuses it: 429
// RATE_LIMITED past the client's share, 503 UNAVAILABLE past the total.
func (g *pendingGate) take(client netip.Prefix) (*ticket, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.byClient[client] >= g.perClient {
		return nil, &computemw.Error{Code: computemw.CodeRateLimited, RetryAfter: g.retryAfter,
			Message: "too many Socket.IO connections from this address are waiting to be admitted"}
	}
	if g.total >= g.max {
		return nil, &computemw.Error{Code: computemw.CodeUnavailable, RetryAfter: g.retryAfter,
			Message: "too many Socket.IO connections are waiting to be admitted"}
	}
	g.total++
	g.byClient[client]++
	return &ticket{g: g, client: client}, nil
}

// give gives back a place of client.
func (g *pendingGate) give(client netip.Prefix) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.total--
	if n := g.byClient[client] - 1; n > 0 {
		g.byClient[client] = n
	} else {
		delete(g.byClient, client)
	}
}

// count is the number of places held.
func (g *pendingGate) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.total
}

// ticket is the place of one handshake, and then of the session it made.
type ticket struct {
	g      *pendingGate
	client netip.Prefix

	mu       sync.Mutex
	bound    bool // a session holds it
	released bool
}

// bind gives the place to the session the handshake made; false when the
// place was already given back (the session must then not live).
func (t *ticket) bind() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.released {
		return false
	}
	t.bound = true
	return true
}

// release gives the place back, once.
func (t *ticket) release() {
	t.mu.Lock()
	done := t.released
	t.released = true
	t.mu.Unlock()
	if !done {
		t.g.give(t.client)
	}
}

// handshakeDone gives the place back when the handshake made no session.
func (t *ticket) handshakeDone() {
	t.mu.Lock()
	bound := t.bound
	t.mu.Unlock()
	if !bound {
		t.release()
	}
}

var ticketKey = &struct{ name string }{"computesocketio-ticket"}

// withTicket carries t in a handshake's context, where the session the
// Engine.IO server makes of it finds it.
func withTicket(ctx context.Context, t *ticket) context.Context {
	return context.WithValue(ctx, ticketKey, t)
}

// ticketFrom is the ticket of a handshake's context, or nil.
func ticketFrom(ctx context.Context) *ticket {
	t, _ := ctx.Value(ticketKey).(*ticket)
	return t
}

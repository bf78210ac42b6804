package graphql

import (
	"fmt"
	"sync"
	"time"

	"github.com/computemw/kit/computemw"
)

// pendingConns counts the WebSocket connections that have not completed
// connection_init: each holds a goroutine and the connection's buffers
// before anything is known of its caller, so at most max of them are
// open at once, and perAddr of one client address.
type pendingConns struct {
	mu      sync.Mutex
	max     int
	perAddr int
	total   int
	byAddr  map[string]int
}

func newPendingConns(max, perAddr int) *pendingConns {
	return &pendingConns{max: max, perAddr: perAddr, byAddr: map[string]int{}}
}

// take holds a place for a connection of addr; the returned function,
// idempotent, gives it back.
func (p *pendingConns) take(addr string) (func(), error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.byAddr[addr] >= p.perAddr {
		return nil, &computemw.Error{Code: computemw.CodeRateLimited, RetryAfter: time.Second,
			Message: fmt.Sprintf("at most %d WebSocket connections of one address may await connection_init", p.perAddr)}
	}
	if p.total >= p.max {
		return nil, &computemw.Error{Code: computemw.CodeUnavailable, RetryAfter: time.Second,
			Message: "too many WebSocket connections await connection_init, retry later"}
	}
	p.total++
	p.byAddr[addr]++
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.total--
			if p.byAddr[addr]--; p.byAddr[addr] == 0 {
				delete(p.byAddr, addr)
			}
		})
	}, nil
}

package computemw

import (
	"fmt"
	"sync"
	"time"
)

// WSConfig tunes the WebSocket protocol; zero fields take the defaults.
type WSConfig struct {
	// SendQueue is how many outgoing messages may wait for a slow client
	// (default 64). When it is full, producers wait: the sandboxed program
	// blocks on its output pipe instead of the server buffering.
	SendQueue int
	// WriteTimeout disconnects a client that accepts no message for this
	// long (default 10s); its sandbox is destroyed.
	WriteTimeout time.Duration
	// PingInterval pings idle clients (default 30s); one that does not
	// answer within WriteTimeout is disconnected.
	PingInterval time.Duration
	// MaxMessageBytes caps an incoming message (default 1 MiB).
	MaxMessageBytes int
	// TerminalTimeout ends a terminal after this long (default 30m);
	// policies may lower it (RBAC's MaxExecutionTime).
	TerminalTimeout time.Duration
	// IdleTimeout closes a connection whose client sent no message for
	// this long while nothing runs on it (default 15m).
	IdleTimeout time.Duration
	// MaxLifetime closes a connection this long after it opened, whatever
	// it is doing (default 2h).
	MaxLifetime time.Duration
	// MaxConnsPerCaller caps one caller's open connections (default 16);
	// MaxConns all of them (default 1024). Past either, a new connection
	// gets an error message and is closed.
	MaxConnsPerCaller int
	MaxConns          int
}

func (c *WSConfig) setDefaults() {
	if c.SendQueue <= 0 {
		c.SendQueue = 64
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 30 * time.Second
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = 1 << 20
	}
	if c.TerminalTimeout <= 0 {
		c.TerminalTimeout = 30 * time.Minute
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 15 * time.Minute
	}
	if c.MaxLifetime <= 0 {
		c.MaxLifetime = 2 * time.Hour
	}
	if c.MaxConnsPerCaller <= 0 {
		c.MaxConnsPerCaller = 16
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 1024
	}
}

// connections counts open WebSocket connections, in all and per caller.
type connections struct {
	mu    sync.Mutex
	total int
	by    map[string]int
}

// take holds a place for a connection of owner, or refuses: 429 past the
// caller's cap, 503 past the total.
func (c *connections) take(owner string, cfg WSConfig) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.by == nil {
		c.by = make(map[string]int)
	}
	switch {
	case c.total >= cfg.MaxConns:
		return &Error{Code: CodeUnavailable, Message: "too many WebSocket connections, retry later", RetryAfter: capacityRetryAfter}
	case c.by[owner] >= cfg.MaxConnsPerCaller:
		return &Error{Code: CodeRateLimited, Message: fmt.Sprintf("at most %d WebSocket connections per caller", cfg.MaxConnsPerCaller),
			RetryAfter: capacityRetryAfter}
	}
	c.total++
	c.by[owner]++
	return nil
}

// give gives a connection's place back.
func (c *connections) give(owner string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total--
	if c.by[owner]--; c.by[owner] <= 0 {
		delete(c.by, owner)
	}
}

package cloudflare_test

import (
	"context"
	"slices"
	"sync"
	"time"
)

// retryClock stands for the clock of a provider's retries: it records each
// wait asked for and lets it pass at once.
type retryClock struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (c *retryClock) wait(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.mu.Unlock()
	return ctx.Err()
}

func (c *retryClock) taken() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.waits)
}

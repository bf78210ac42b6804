// Package providertest holds test helpers the remote providers' tests
// share.
package providertest

import (
	"context"
	"slices"
	"sync"
	"time"
)

// RetryClock stands for the clock of a provider's retries (its Wait is
// what a provider's SetRetryWait takes): it records each wait asked for
// and lets it pass at once, so a test sees the backoff and Retry-After
// without sleeping.
type RetryClock struct {
	mu    sync.Mutex
	waits []time.Duration
}

// Wait records d and returns at once, with ctx's error if it has ended.
func (c *RetryClock) Wait(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.mu.Unlock()
	return ctx.Err()
}

// Reset forgets the waits recorded so far.
func (c *RetryClock) Reset() {
	c.mu.Lock()
	c.waits = nil
	c.mu.Unlock()
}

// Taken returns the waits recorded since the last Reset, in order.
func (c *RetryClock) Taken() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.waits)
}

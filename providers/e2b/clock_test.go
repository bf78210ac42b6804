package e2b_test

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

func (c *retryClock) reset() {
	c.mu.Lock()
	c.waits = nil
	c.mu.Unlock()
}

func (c *retryClock) taken() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.waits)
}

// deadlineCtx is a context whose deadline passes when the test calls
// expire, not at a time of the machine's clock.
type deadlineCtx struct {
	context.Context
	done chan struct{}
	once sync.Once
}

func newDeadlineCtx(parent context.Context) *deadlineCtx {
	return &deadlineCtx{Context: parent, done: make(chan struct{})}
}

// Deadline says there is one, far enough not to be reached by the clock.
func (c *deadlineCtx) Deadline() (time.Time, bool) { return time.Now().Add(time.Hour), true }

func (c *deadlineCtx) Done() <-chan struct{} { return c.done }

func (c *deadlineCtx) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

func (c *deadlineCtx) expire() { c.once.Do(func() { close(c.done) }) }

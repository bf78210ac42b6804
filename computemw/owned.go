package computemw

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// owned counts the sandboxes each caller holds, under its cap
// (Config.MaxSandboxesPerPrincipal, lowered by Action.MaxSandboxes): one
// caller cannot take every slot of Config.MaxSandboxes. A caller at its
// cap waits for one of its own sandboxes to go, outside the capacity
// queue, so that its surplus does not stand in front of other callers.
type owned struct {
	mu    sync.Mutex
	n     map[string]int
	freed map[string]chan struct{} // closed when one of the owner's sandboxes goes
}

// take counts a sandbox for owner, waiting up to wait while owner holds
// limit of them; past the wait, or when ctx ends, it fails with 429.
func (o *owned) take(ctx context.Context, owner string, limit int, wait time.Duration) error {
	var timer *time.Timer
	for {
		o.mu.Lock()
		if o.n == nil {
			o.n = map[string]int{}
			o.freed = map[string]chan struct{}{}
		}
		if o.n[owner] < limit {
			o.n[owner]++
			o.mu.Unlock()
			return nil
		}
		ch := o.freed[owner]
		if ch == nil {
			ch = make(chan struct{})
			o.freed[owner] = ch
		}
		o.mu.Unlock()
		refused := &Error{Code: CodeRateLimited, RetryAfter: capacityRetryAfter,
			Message: fmt.Sprintf("at most %d sandboxes at once per caller", limit)}
		if wait <= 0 {
			return refused
		}
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		}
		select {
		case <-ch:
		case <-timer.C:
			return refused
		case <-ctx.Done():
			return refused
		}
	}
}

// give ends the count of one of owner's sandboxes.
func (o *owned) give(owner string) {
	if owner == "" {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n[owner]--; o.n[owner] <= 0 {
		delete(o.n, owner)
	}
	if ch := o.freed[owner]; ch != nil {
		close(ch)
		delete(o.freed, owner)
	}
}

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
// Its creations waiting so are served first come first served: a freed
// place goes to the oldest, and wakes no other.
type owned struct {
	mu      sync.Mutex
	n       map[string]int
	waiting map[string][]*ownedWaiter // per owner, oldest first
}

// ownedWaiter is a creation waiting for a place of its owner's.
type ownedWaiter struct {
	limit   int
	granted chan struct{} // closed once the place is the waiter's
	done    bool          // granted, or gone (under owned.mu)
}

// take counts a sandbox for owner, waiting up to wait while owner holds
// limit of them; past the wait, or when ctx ends, it fails with 429.
func (o *owned) take(ctx context.Context, owner string, limit int, wait time.Duration) error {
	o.mu.Lock()
	if o.n == nil {
		o.n = map[string]int{}
		o.waiting = map[string][]*ownedWaiter{}
	}
	if o.n[owner] < limit && len(o.waiting[owner]) == 0 {
		o.n[owner]++
		o.mu.Unlock()
		return nil
	}
	refused := &Error{Code: CodeRateLimited, RetryAfter: capacityRetryAfter,
		Message: fmt.Sprintf("at most %d sandboxes at once per caller", limit)}
	if wait <= 0 {
		o.mu.Unlock()
		return refused
	}
	w := &ownedWaiter{limit: limit, granted: make(chan struct{})}
	o.waiting[owner] = append(o.waiting[owner], w)
	o.grantLocked(owner)
	o.mu.Unlock()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-w.granted:
		return nil
	case <-timer.C:
	case <-ctx.Done():
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if w.done {
		// Granted as it gave up: the place is given back.
		o.releaseLocked(owner)
		return refused
	}
	w.done = true
	q := o.waiting[owner]
	for i, x := range q {
		if x == w {
			o.waiting[owner] = append(q[:i:i], q[i+1:]...)
			break
		}
	}
	if len(o.waiting[owner]) == 0 {
		delete(o.waiting, owner)
	}
	// The next one may fit where this one's lower limit did not.
	o.grantLocked(owner)
	return refused
}

// give ends the count of one of owner's sandboxes.
func (o *owned) give(owner string) {
	if owner == "" {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.releaseLocked(owner)
}

// releaseLocked ends the count of one of owner's sandboxes and hands the
// place on. o.mu is held.
func (o *owned) releaseLocked(owner string) {
	if o.n[owner]--; o.n[owner] <= 0 {
		delete(o.n, owner)
	}
	o.grantLocked(owner)
}

// grantLocked gives owner's free places to its oldest waiters, in turn,
// while the oldest fits under its own limit. o.mu is held.
func (o *owned) grantLocked(owner string) {
	q := o.waiting[owner]
	for len(q) > 0 && o.n[owner] < q[0].limit {
		w := q[0]
		q = q[1:]
		o.n[owner]++
		w.done = true
		close(w.granted)
	}
	if len(q) == 0 {
		delete(o.waiting, owner)
	} else {
		o.waiting[owner] = q
	}
}

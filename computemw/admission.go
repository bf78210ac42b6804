package computemw

import (
	"context"
	"fmt"
	"time"
)

// QueueObserver is implemented by metrics (Config.Metrics) and policies
// that observe the admission queue: each sandbox creation that found the
// kit at Config.MaxSandboxes and waited for a slot is reported once, with
// how long it waited and the error that ended its wait (nil when it got a
// slot).
type QueueObserver interface {
	SandboxQueued(ctx context.Context, waited time.Duration, err error)
}

// waiter is a sandbox creation queued for a slot.
type waiter struct {
	ready   chan struct{} // closed when granted or refused
	granted bool          // set, under k.mu, before ready is closed
}

// reserve holds a slot of Config.MaxSandboxes for a new sandbox. At
// capacity it queues, first come first served, for at most
// Config.QueueTimeout and behind at most Config.QueueDepth others; past
// either (or when ctx ends) it fails with 503 and Retry-After.
func (k *Kit) reserve(ctx context.Context) error {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return &Error{Code: CodeUnavailable, Message: "shutting down", RetryAfter: capacityRetryAfter}
	}
	if k.reserved < k.cfg.MaxSandboxes && len(k.queue) == 0 {
		k.reserved++
		k.mu.Unlock()
		return nil
	}
	if len(k.queue) >= k.cfg.QueueDepth || k.cfg.QueueTimeout <= 0 {
		k.mu.Unlock()
		err := &Error{Code: CodeUnavailable, Message: "sandbox capacity reached and the queue is full, retry later", RetryAfter: capacityRetryAfter}
		k.queued(ctx, 0, err)
		return err
	}
	w := &waiter{ready: make(chan struct{})}
	k.queue = append(k.queue, w)
	k.mu.Unlock()

	start := time.Now()
	timer := time.NewTimer(k.cfg.QueueTimeout)
	defer timer.Stop()
	var err error
	select {
	case <-w.ready:
	case <-timer.C:
		err = &Error{Code: CodeUnavailable, Message: fmt.Sprintf("sandbox capacity reached; no slot within %s, retry later", k.cfg.QueueTimeout), RetryAfter: capacityRetryAfter}
	case <-ctx.Done():
		err = ctx.Err()
	}
	k.mu.Lock()
	granted := w.granted
	if !granted {
		k.dequeue(w)
	}
	k.mu.Unlock()
	switch {
	case granted && err != nil:
		// Granted as the wait ended: give the slot on.
		k.unreserve()
	case !granted && err == nil:
		// Refused: the kit is closing.
		err = &Error{Code: CodeUnavailable, Message: "shutting down", RetryAfter: capacityRetryAfter}
	}
	k.queued(ctx, time.Since(start), err)
	return err
}

// dequeue removes w from the queue; k.mu is held.
func (k *Kit) dequeue(w *waiter) {
	for i, q := range k.queue {
		if q == w {
			k.queue = append(k.queue[:i], k.queue[i+1:]...)
			return
		}
	}
}

// unreserve gives a slot back: to the first creation queued, if any.
func (k *Kit) unreserve() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.queue) > 0 && !k.closed {
		w := k.queue[0]
		k.queue = k.queue[1:]
		w.granted = true
		close(w.ready)
		return
	}
	k.reserved--
	if k.closed && k.reserved == 0 {
		close(k.drained)
	}
}

// refuseQueued ends every queued wait when the kit closes; k.mu is held.
func (k *Kit) refuseQueued() {
	for _, w := range k.queue {
		close(w.ready)
	}
	k.queue = nil
}

// QueueDepth returns the number of sandbox creations waiting for a slot.
func (k *Kit) queueDepth() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.queue)
}

// queued reports a wait to the policies and metrics that observe the queue.
func (k *Kit) queued(ctx context.Context, waited time.Duration, err error) {
	for _, h := range k.extensions() {
		if q, ok := h.(QueueObserver); ok {
			q.SandboxQueued(ctx, waited, err)
		}
	}
}

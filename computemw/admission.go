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
	owner   string        // the caller's owner key: its turn in the queue
	ready   chan struct{} // closed when granted or refused
	granted bool          // set, under k.mu, before ready is closed
	bumped  bool          // likewise: its place went to another caller's
}

// reserve holds a slot of Config.MaxSandboxes for a new sandbox. At
// capacity it queues (admissionQueue: the callers take turns, each's
// creations first come first served) for at most Config.QueueTimeout and
// while at most Config.QueueDepth others wait; past either (or when ctx
// ends) it fails with 503 and Retry-After. In a full queue, a caller with
// fewer waiting than another takes the place of that other's newest
// creation (admissionQueue.bump), which fails as if it had found the
// queue full: one caller cannot fill the queue for all.
func (k *Kit) reserve(ctx context.Context) error {
	owner := k.owner(ctx)
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return &Error{Code: CodeUnavailable, Message: "shutting down", RetryAfter: capacityRetryAfter}
	}
	if k.reserved < k.cfg.MaxSandboxes && k.queue.n == 0 {
		k.reserved++
		k.mu.Unlock()
		return nil
	}
	if k.queue.n >= k.cfg.QueueDepth || k.cfg.QueueTimeout <= 0 {
		var bumped *waiter
		if k.cfg.QueueTimeout > 0 {
			bumped = k.queue.bump(owner)
		}
		if bumped == nil {
			k.mu.Unlock()
			err := errQueueFull()
			k.queued(ctx, 0, err)
			return err
		}
		bumped.bumped = true
		close(bumped.ready)
	}
	w := &waiter{owner: owner, ready: make(chan struct{})}
	k.queue.push(w)
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
	granted, bumped := w.granted, w.bumped
	if !granted {
		k.queue.remove(w)
	}
	k.mu.Unlock()
	switch {
	case granted && err != nil:
		// Granted as the wait ended: give the slot on.
		k.unreserve()
	case bumped && err == nil:
		// Refused: another caller took the place.
		err = errQueueFull()
	case !granted && err == nil:
		// Refused: the kit is closing.
		err = &Error{Code: CodeUnavailable, Message: "shutting down", RetryAfter: capacityRetryAfter}
	}
	k.queued(ctx, time.Since(start), err)
	return err
}

// errQueueFull is the refusal of a creation that found the queue full.
func errQueueFull() error {
	return &Error{Code: CodeUnavailable, Message: "sandbox capacity reached and the queue is full, retry later", RetryAfter: capacityRetryAfter}
}

// unreserve gives a slot back: to the next creation queued, if any.
func (k *Kit) unreserve() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.queue.n > 0 && !k.closed {
		w := k.queue.pop()
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
	for _, w := range k.queue.clear() {
		close(w.ready)
	}
}

// QueueDepth returns the number of sandbox creations waiting for a slot.
func (k *Kit) queueDepth() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.queue.n
}

// queued reports a wait to the policies and metrics that observe the queue.
func (k *Kit) queued(ctx context.Context, waited time.Duration, err error) {
	for _, h := range k.extensions() {
		if q, ok := h.(QueueObserver); ok {
			q.SandboxQueued(ctx, waited, err)
		}
	}
}

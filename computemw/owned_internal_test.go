package computemw

import (
	"context"
	"testing"
	"time"
)

// queuedFor reports how many creations of owner wait.
func (o *owned) queuedFor(owner string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.waiting[owner])
}

// A caller's creations waiting at its cap get the places it frees in the
// order they came, one place each; one that gives up leaves the others'
// order as it was.
func TestOwnedServesACallerInOrder(t *testing.T) {
	var o owned
	ctx := t.Context()
	if err := o.take(ctx, "a", 1, time.Hour); err != nil {
		t.Fatal(err)
	}
	const n = 20
	order := make(chan int, n)
	cancels := make([]context.CancelFunc, n)
	for i := range n {
		cctx, cancel := context.WithCancel(ctx)
		cancels[i] = cancel
		go func() {
			if err := o.take(cctx, "a", 1, time.Hour); err != nil {
				order <- -1 - i
				return
			}
			order <- i
		}()
		for o.queuedFor("a") != i+1 {
			// Each waiter is queued before the next one starts.
			time.Sleep(time.Millisecond)
		}
	}
	cancels[5]() // the sixth gives up
	if got := <-order; got != -6 {
		t.Fatalf("the cancelled waiter reported %d", got)
	}
	for want := range n {
		if want == 5 {
			continue
		}
		o.give("a")
		if got := <-order; got != want {
			t.Fatalf("the place went to waiter %d, want %d", got, want)
		}
	}
	o.give("a")
	if o.queuedFor("a") != 0 || len(o.n) != 0 {
		t.Errorf("left: %d waiting, counts %v", o.queuedFor("a"), o.n)
	}
	for _, c := range cancels {
		c()
	}
}

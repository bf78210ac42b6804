//go:build linux

package startgate

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
)

// admitted is a waiter the gate let in: who it is, and its release.
type admitted struct {
	name    string
	release func()
}

// queue starts a waiter of caller and session named name, and waits until
// it is in line (want waiting in all); the gate's admission goes to out.
func queue(t *testing.T, ctx context.Context, g *Gate, caller, session, name string, want int, out chan<- admitted, wg *sync.WaitGroup) {
	t.Helper()
	wg.Go(func() {
		rel, err := g.Enter(ctx, caller, session)
		if err != nil {
			out <- admitted{name: name + ": " + err.Error(), release: func() {}}
			return
		}
		out <- admitted{name: name, release: rel}
	})
	waitFor(t, g, "a waiter queued", func(s computemw.StartGateStats) bool { return s.Waiting == want })
}

// On busy CPUs, while one caller has 300 executions waiting, another
// caller's single execution starts at once, beside the slot; a third
// caller's, the place beside the slot taken, waits and is the first to
// start when the slot frees.
func TestStartGateFairBetweenCallers(t *testing.T) {
	g := &Gate{slots: 1, hold: time.Hour, stall: busyCPUs()}
	first, err := g.Enter(t.Context(), "a", "s")
	if err != nil {
		t.Fatal(err)
	}
	const many = 300
	out := make(chan admitted, many+1)
	var wg sync.WaitGroup
	for i := range many {
		wg.Go(func() {
			rel, err := g.Enter(t.Context(), "a", "s")
			if err != nil {
				t.Error(err)
				rel = func() {}
			}
			out <- admitted{name: fmt.Sprintf("a%d", i), release: rel}
		})
	}
	waitFor(t, g, "caller a's waiters queued", func(s computemw.StartGateStats) bool { return s.Waiting == many })
	beside, err := g.Enter(t.Context(), "b", "s")
	if err != nil {
		t.Fatal(err)
	}
	if s := g.Stats(); s.Running != 2 || s.Waiting != many {
		t.Fatalf("caller b's single execution beside caller a's burst: %+v", s)
	}
	queue(t, t.Context(), g, "c", "s", "c", many+1, out, &wg)

	first()
	pos := -1
	for i := range many + 1 {
		got := <-out
		if got.name == "c" {
			pos = i
			beside()
		}
		if s := g.Stats(); s.Running < 1 || s.Running > 2 {
			t.Fatalf("one slot and one place beside it, %d running", s.Running)
		}
		got.release()
	}
	wg.Wait()
	if pos != 0 {
		t.Errorf("caller c's execution started %dth after the slot freed, behind caller a's; want first", pos+1)
	}
	if s := g.Stats(); s.Running != 0 || s.Waiting != 0 || s.Waited != many+1 {
		t.Errorf("after all: %+v", s)
	}
}

// Callers take turns, those that arrived with nothing in the gate (b, c;
// not a, which has an execution running) first, in order of arrival; a
// caller's sessions take turns within its turns, and a session's
// executions start in order of arrival; a waiter that leaves gives up its
// turn and nothing else.
func TestStartGateTurns(t *testing.T) {
	g := &Gate{slots: 1, hold: time.Hour, stall: busyCPUs()}
	first, err := g.Enter(t.Context(), "a", "s1")
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan admitted, 8)
	var wg sync.WaitGroup
	leaves, leave := context.WithCancel(t.Context())
	defer leave()
	arrivals := []struct{ caller, session, name string }{
		{"a", "s1", "a1.1"}, {"a", "s1", "a1.2"}, {"a", "s1", "a1.3"}, {"a", "s2", "a2.1"},
		{"b", "t1", "b1.1"}, {"b", "t1", "b1.2"}, {"c", "u1", "c1.1"},
	}
	var beside func()
	for i, a := range arrivals {
		queue(t, t.Context(), g, a.caller, a.session, a.name, i+1, out, &wg)
		if i == 0 {
			// Caller a is crowded: a caller alone takes the place
			// beside the slot, and the callers after it all wait
			// their turns.
			if beside, err = g.Enter(t.Context(), "y", "w1"); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A waiter of its own caller that leaves the line before its turn.
	queue(t, leaves, g, "d", "v1", "d1.1", len(arrivals)+1, out, &wg)
	leave()
	if got := <-out; got.name != "d1.1: context canceled" {
		t.Fatalf("the waiter that left: %s", got.name)
	}
	waitFor(t, g, "the waiter left", func(s computemw.StartGateStats) bool { return s.Waiting == len(arrivals) })

	first()
	var order []string
	for range arrivals {
		got := <-out
		order = append(order, got.name)
		got.release()
	}
	wg.Wait()
	want := []string{"b1.1", "c1.1", "a1.1", "b1.2", "a2.1", "a1.2", "a1.3"}
	if !slices.Equal(order, want) {
		t.Errorf("started in the order %v, want %v", order, want)
	}
	beside()
	if s := g.Stats(); s.Running != 0 || s.Waiting != 0 {
		t.Errorf("after all: %+v", s)
	}
}

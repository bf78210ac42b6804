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

// On busy CPUs, one caller with 300 executions waiting delays another
// caller's single one by no start of its own: the other's, its caller
// having nothing else in the gate, is the first to start when a slot
// frees.
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
	queue(t, t.Context(), g, "b", "s", "b", many+1, out, &wg)

	first()
	pos := -1
	for i := range many + 1 {
		got := <-out
		if s := g.Stats(); s.Running != 1 {
			t.Fatalf("one slot, %d running", s.Running)
		}
		if got.name == "b" {
			pos = i
		}
		got.release()
	}
	wg.Wait()
	if pos != 0 {
		t.Errorf("caller b's execution started %dth after the slot freed, behind caller a's; want first", pos+1)
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
	for i, a := range arrivals {
		queue(t, t.Context(), g, a.caller, a.session, a.name, i+1, out, &wg)
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
	if s := g.Stats(); s.Running != 0 || s.Waiting != 0 {
		t.Errorf("after all: %+v", s)
	}
}

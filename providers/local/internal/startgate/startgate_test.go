//go:build linux

package startgate

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
)

// busyCPUs is a stall source on which tasks always waited for a CPU;
// idleCPUs one on which none ever did.
func busyCPUs() func() time.Duration {
	var mu sync.Mutex
	var t time.Duration
	return func() time.Duration {
		mu.Lock()
		defer mu.Unlock()
		t += time.Hour
		return t
	}
}

func idleCPUs() time.Duration { return 0 }

// waitFor polls the gate's state until cond holds (a goroutine of the
// test reached the gate), or fails the test.
func waitFor(t *testing.T, g *Gate, what string, cond func(computemw.StartGateStats) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond(g.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: gate %+v", what, g.Stats())
		}
		time.Sleep(time.Millisecond)
	}
}

// On busy CPUs, executions start in order of arrival as slots free up.
func TestStartGateOrder(t *testing.T) {
	g := &Gate{slots: 1, hold: time.Hour, stall: busyCPUs()}
	first, err := g.Enter(t.Context(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		order []int
		rels  = make(chan func(), 3)
		wg    sync.WaitGroup
	)
	for i := range 3 {
		wg.Go(func() {
			rel, err := g.Enter(t.Context(), "", "")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			rels <- rel
		})
		waitFor(t, g, "a waiter queued", func(s computemw.StartGateStats) bool { return s.Waiting == i+1 })
	}
	first()
	first() // a second release gives nothing back
	for range 3 {
		rel := <-rels
		if s := g.Stats(); s.Running != 1 {
			t.Fatalf("one slot, %d running", s.Running)
		}
		rel()
	}
	wg.Wait()
	if order[0] != 0 || order[1] != 1 || order[2] != 2 {
		t.Errorf("started in the order %v, want [0 1 2]", order)
	}
	if s := g.Stats(); s.Running != 0 || s.Waiting != 0 || s.Waited != 3 || s.Extra != 0 {
		t.Errorf("after all: %+v", s)
	}
}

// An execution that keeps its slot longer than hold gives it up to the
// next one; its own release later gives nothing back twice.
func TestStartGateHold(t *testing.T) {
	g := &Gate{slots: 1, hold: 20 * time.Millisecond, stall: busyCPUs()}
	long, err := g.Enter(t.Context(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	next, err := g.Enter(t.Context(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if s := g.Stats(); s.Running != 1 || s.Waited != 1 {
		t.Errorf("the long one's slot went to the next: %+v", s)
	}
	long()
	if s := g.Stats(); s.Running != 1 {
		t.Errorf("the long one's late release gave back another's slot: %+v", s)
	}
	next()
	if s := g.Stats(); s.Running != 0 {
		t.Errorf("after all: %+v", s)
	}
}

// A waiter whose context ends leaves the line and holds nothing.
func TestStartGateCancel(t *testing.T) {
	g := &Gate{slots: 1, hold: time.Hour, stall: busyCPUs()}
	first, err := g.Enter(t.Context(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := g.Enter(ctx, "", "")
		errc <- err
	}()
	waitFor(t, g, "the waiter queued", func(s computemw.StartGateStats) bool { return s.Waiting == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled waiter: %v", err)
	}
	if s := g.Stats(); s.Waiting != 0 || s.Running != 1 {
		t.Errorf("after the cancel: %+v", s)
	}
	first()
	if s := g.Stats(); s.Running != 0 {
		t.Errorf("after all: %+v", s)
	}
}

// While the CPUs have room, waiters start beyond the slots: the gate
// never keeps a CPU idle.
func TestStartGateRoom(t *testing.T) {
	g := &Gate{slots: 1, hold: time.Hour, stall: idleCPUs}
	first, err := g.Enter(t.Context(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	rels := make(chan func(), 5)
	for range 5 {
		go func() {
			rel, err := g.Enter(t.Context(), "", "")
			if err != nil {
				t.Error(err)
			}
			rels <- rel
		}()
	}
	var got []func()
	for range 5 {
		got = append(got, <-rels)
	}
	if s := g.Stats(); s.Running != 6 || s.Extra != 5 {
		t.Errorf("5 admitted beyond one slot: %+v", s)
	}
	first()
	for _, rel := range got {
		rel()
	}
	if s := g.Stats(); s.Running != 0 || s.Waiting != 0 {
		t.Errorf("after all: %+v", s)
	}
	waitFor(t, g, "the watch ended", func(computemw.StartGateStats) bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return !g.watching
	})
}

// Without the kernel's CPU pressure, or with Slots -1, there is no gate,
// and a nil gate lets everything through.
func TestStartGateOff(t *testing.T) {
	if g := New(-1, time.Second); g != nil {
		t.Error("Slots -1 made a gate")
	}
	var g *Gate
	rel, err := g.Enter(t.Context(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	rel()
	if s := g.Stats(); s != (computemw.StartGateStats{}) {
		t.Errorf("no gate: %+v", s)
	}
}

// A caller with more than one execution in the gate, waiting or let in,
// is crowded; one with a single execution is not, whatever another
// caller has in it, and starts at once beside the slots (one place per
// slot) while another is crowded; and an execution that leaves,
// released or given up while waiting, no longer counts.
func TestStartGateCrowded(t *testing.T) {
	g := &Gate{slots: 1, hold: time.Hour, stall: busyCPUs()}
	burst1, err := g.Enter(t.Context(), "burst", "a")
	if err != nil {
		t.Fatal(err)
	}
	if g.Crowded("burst") {
		t.Fatal("a caller with one execution in the gate is crowded")
	}
	// Alone, without a crowded caller, a second caller waits its turn.
	lone := make(chan func(), 1)
	go func() {
		rel, err := g.Enter(t.Context(), "lone", "l")
		if err != nil {
			t.Error(err)
		}
		lone <- rel
	}()
	waitFor(t, g, "the lone caller waits", func(s computemw.StartGateStats) bool { return s.Waiting == 1 })
	ctx, cancel := context.WithCancel(t.Context())
	gaveUp := make(chan error, 1)
	go func() {
		_, err := g.Enter(ctx, "burst", "b")
		gaveUp <- err
	}()
	waitFor(t, g, "the burst's second execution waits", func(s computemw.StartGateStats) bool { return s.Waiting == 2 })
	if !g.Crowded("burst") {
		t.Fatal("a caller with one execution let in and one waiting is not crowded")
	}
	single, err := g.Enter(t.Context(), "single", "c")
	if err != nil {
		t.Fatal(err)
	}
	if g.Crowded("single") {
		t.Fatal("a caller with one execution is crowded beside another's burst")
	}
	if s := g.Stats(); s.Running != 2 || s.Waiting != 2 {
		t.Fatalf("the single execution beside the burst: %+v", s)
	}
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("the waiter given up: %v", err)
	}
	if g.Crowded("burst") {
		t.Fatal("a waiter that gave up still counts")
	}
	single()
	single() // a release called twice counts once
	burst1()
	(<-lone)()
	g.mu.Lock()
	left, crowded, beside := len(g.present), g.crowded, g.beside
	g.mu.Unlock()
	if left != 0 || crowded != 0 || beside != 0 || g.Crowded("burst") {
		t.Fatalf("still counted once every execution left: %d callers, %d crowded, %d beside", left, crowded, beside)
	}
	if s := g.Stats(); s.Running != 0 || s.Waiting != 0 {
		t.Fatalf("after all: %+v", s)
	}
}

package computemw_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/computemw/kit/computemw"
)

// grant is a queued creation that got its slot: whose, and its release.
type grant struct {
	name    string
	release func()
}

// At capacity, callers take turns for the slots freed: one caller with
// many creations waiting delays another's first by at most one slot; each
// caller's own creations are served in the order they came.
func TestAdmissionFairBetweenCallers(t *testing.T) {
	kit, _ := newKit(t, computemw.Config{MaxSandboxes: 1})
	as := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "a"})
	bs := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "b"})
	_, rel, err := kit.Acquire(as, "", computemw.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	held := sync.OnceFunc(rel)
	defer held()
	const many = 20
	grants := make(chan grant, many+1)
	var wg sync.WaitGroup
	wait := func(ctx context.Context, name string, queued int) {
		wg.Go(func() {
			_, rel, err := kit.Acquire(ctx, "", computemw.CreateOptions{})
			if err != nil {
				t.Errorf("%s: %v", name, err)
				rel = func() {}
			}
			grants <- grant{name: name, release: rel}
		})
		queueReaches(t, kit, queued)
	}
	for i := range many {
		wait(as, fmt.Sprintf("a%d", i+1), i+1)
	}
	wait(bs, "b1", many+1)

	held()
	var order []string
	for range many + 1 {
		g := <-grants
		order = append(order, g.name)
		g.release()
	}
	wg.Wait()
	if i := slices.Index(order, "b1"); i < 0 || i > 1 {
		t.Errorf("slots went %v: caller b's creation waited behind %d of caller a's", order, i)
	}
	var want, got []string
	for i := range many {
		want = append(want, fmt.Sprintf("a%d", i+1))
	}
	for _, name := range order {
		if name != "b1" {
			got = append(got, name)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("caller a's creations served in the order %v", got)
	}
	if d := kit.Stats().Queued; d != 0 {
		t.Errorf("queue depth %d after all", d)
	}
}

// One caller cannot fill the queue for all: in a full queue, another
// caller's creation takes the place of the first caller's newest, which
// is refused with 503; a caller that already has its share is refused
// itself.
func TestAdmissionFullQueueShared(t *testing.T) {
	rec := &queueRecorder{}
	kit, _ := newKit(t, computemw.Config{MaxSandboxes: 1, QueueDepth: 3, Policies: []computemw.Policy{rec}})
	as := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "a"})
	bs := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "b"})
	_, rel, err := kit.Acquire(as, "", computemw.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	held := sync.OnceFunc(rel)
	defer held()
	type outcome struct {
		name string
		err  error
	}
	outcomes := make(chan outcome, 4)
	grants := make(chan func(), 4)
	var wg sync.WaitGroup
	wait := func(ctx context.Context, name string) {
		wg.Go(func() {
			_, rel, err := kit.Acquire(ctx, "", computemw.CreateOptions{})
			outcomes <- outcome{name, err}
			if err == nil {
				grants <- rel
			}
		})
	}
	for i := range 3 {
		wait(as, fmt.Sprintf("a%d", i+1))
		queueReaches(t, kit, i+1)
	}
	// b's first takes a3's place: a3 is refused, the queue stays full.
	wait(bs, "b1")
	if o := <-outcomes; o.name != "a3" || computemw.StatusOf(o.err) != 503 {
		t.Fatalf("in a full queue, b's creation came and %s got %v; want a3 refused with 503", o.name, o.err)
	}
	queueReaches(t, kit, 3)
	// b's second finds b with its share (a 2, b 1): refused itself.
	_, _, err = kit.Acquire(bs, "", computemw.CreateOptions{})
	if computemw.StatusOf(err) != 503 {
		t.Fatalf("b's second in a full queue: %v, want 503", err)
	}

	held()
	var order []string
	for range 3 {
		o := <-outcomes
		if o.err != nil {
			t.Errorf("%s: %v", o.name, o.err)
			continue
		}
		order = append(order, o.name)
		(<-grants)()
	}
	wg.Wait()
	if want := []string{"a1", "b1", "a2"}; !slices.Equal(order, want) {
		t.Errorf("slots went %v, want %v", order, want)
	}
	if d := kit.Stats().Queued; d != 0 {
		t.Errorf("queue depth %d after all", d)
	}
	var refused int
	for _, err := range rec.recorded() {
		if err != nil {
			refused++
		}
	}
	if refused != 2 {
		t.Errorf("the hooks saw %d refusals, want 2 (a3 and b's second)", refused)
	}
}

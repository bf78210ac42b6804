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
	_, held, err := kit.Acquire(as, "", computemw.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
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

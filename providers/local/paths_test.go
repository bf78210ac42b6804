//go:build linux

package local_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// Protection: the path caps (files.go, rel). A path of 1,000 components
// is a BAD_REQUEST for every file operation, before any work is done.
func TestDeepPathRefused(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	sb := newSandbox(t, p, computemw.CreateOptions{})
	ctx := t.Context()
	deep := strings.Repeat("d/", 1000) + "f"
	if err := sb.Mkdir(ctx, deep); !isCode(err, computemw.CodeBadRequest) {
		t.Errorf("Mkdir of depth 1000: %v", err)
	}
	if err := sb.WriteFile(ctx, deep, []byte("x")); !isCode(err, computemw.CodeBadRequest) {
		t.Errorf("WriteFile of depth 1000: %v", err)
	}
	if _, err := sb.ReadFile(ctx, deep); !isCode(err, computemw.CodeBadRequest) {
		t.Errorf("ReadFile of depth 1000: %v", err)
	}
	if _, err := sb.Stat(ctx, deep); !isCode(err, computemw.CodeBadRequest) {
		t.Errorf("Stat of depth 1000: %v", err)
	}
	long := strings.Repeat("n", 4097)
	if err := sb.WriteFile(ctx, long, []byte("x")); !isCode(err, computemw.CodeBadRequest) {
		t.Errorf("WriteFile of a 4097-byte path: %v", err)
	}
	// Up to the cap, everything works.
	ok := strings.Repeat("d/", 63) + "f"
	if err := sb.WriteFile(ctx, ok, []byte("deep")); err != nil {
		t.Fatalf("WriteFile of depth 64: %v", err)
	}
	if b, err := sb.ReadFile(ctx, ok); err != nil || string(b) != "deep" {
		t.Errorf("ReadFile of depth 64: %q %v", b, err)
	}
}

// cancelAfter is a context that is cancelled after its Err has been
// consulted n times: a deterministic "the client left mid-walk".
type cancelAfter struct {
	context.Context
	mu   sync.Mutex
	left int
	done chan struct{}
}

func newCancelAfter(n int) *cancelAfter {
	return &cancelAfter{Context: context.Background(), left: n, done: make(chan struct{})}
}

func (c *cancelAfter) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left == 0 {
		return context.Canceled
	}
	c.left--
	if c.left == 0 {
		close(c.done)
	}
	return nil
}

func (c *cancelAfter) Done() <-chan struct{} { return c.done }

// A client that leaves stops the walk: nothing more is created.
func TestMkdirStopsWhenContextEnds(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	sb := newSandbox(t, p, computemw.CreateOptions{})
	path := strings.Repeat("c/", 40) + "end"

	gone, cancel := context.WithCancel(t.Context())
	cancel()
	if err := sb.Mkdir(gone, path); !errors.Is(err, context.Canceled) {
		t.Errorf("Mkdir with a cancelled context: %v", err)
	}
	if _, err := sb.Stat(t.Context(), "c"); !isCode(err, computemw.CodeNotFound) {
		t.Errorf("Mkdir with a cancelled context created its first directory (%v)", err)
	}

	if err := sb.Mkdir(newCancelAfter(5), path); !errors.Is(err, context.Canceled) {
		t.Errorf("Mkdir cancelled mid-walk: %v", err)
	}
	if _, err := sb.Stat(t.Context(), strings.Repeat("c/", 10)); !isCode(err, computemw.CodeNotFound) {
		t.Errorf("the walk went on after the context ended (%v)", err)
	}
	if err := sb.WriteFile(newCancelAfter(5), path, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("WriteFile cancelled mid-walk: %v", err)
	}
}

// The walk is linear in the path's depth: creating a path 60 deep costs
// about 6 times the system calls of one 10 deep (a walk that started over
// from the workspace for each component would cost about 36 times).
func TestWalkIsLinear(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	sb := newSandbox(t, p, computemw.CreateOptions{})
	cost := func(name string, depth int) int64 {
		before := local.WalkOps(sb)
		if err := sb.WriteFile(t.Context(), name+"/"+strings.Repeat("d/", depth-1)+"f", []byte("x")); err != nil {
			t.Fatalf("WriteFile of depth %d: %v", depth, err)
		}
		return local.WalkOps(sb) - before
	}
	shallow, deep := cost("a", 10), cost("b", 60)
	t.Logf("system calls: depth 10: %d, depth 60: %d", shallow, deep)
	if shallow <= 0 || deep > 8*shallow {
		t.Errorf("depth 60 cost %d system calls, depth 10 %d: not linear", deep, shallow)
	}
}

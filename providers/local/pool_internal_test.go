//go:build linux

package local

import "testing"

// The pool fills while fewer executions run than there are CPUs, up to
// its target, and not once closed.
func TestPoolNeed(t *testing.T) {
	pl := &pool{cfg: PoolConfig{MaxIdleMB: 256}, target: 2, cpus: 2}
	for _, c := range []struct {
		running      int64
		ready, doing int
		closed       bool
		want         bool
	}{
		{0, 0, 0, false, true},
		{1, 1, 0, false, true},
		{1, 0, 1, false, false},
		{0, 0, 1, false, true},
		{2, 0, 0, false, false},
		{5, 0, 0, false, false},
		{0, 1, 1, false, false},
		{0, 2, 0, false, false},
		{0, 0, 0, true, false},
	} {
		pl.ready = nil
		for range c.ready {
			pl.ready = append(pl.ready, &sandbox{})
		}
		pl.making, pl.closed = c.doing, c.closed
		if got := pl.needLocked(c.running); got != c.want {
			t.Errorf("running %d, ready %d, making %d, closed %v: need %v, want %v", c.running, c.ready, c.doing, c.closed, got, c.want)
		}
	}
}

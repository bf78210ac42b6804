//go:build linux

package local

import (
	"testing"
	"time"
)

// The pool fills up to its target and its memory cap, and not once
// closed.
func TestPoolNeed(t *testing.T) {
	pl := &pool{cfg: PoolConfig{MaxIdleMB: 1}, target: 2}
	for _, c := range []struct {
		ready, doing int
		idle         int64
		closed       bool
		want         bool
	}{
		{0, 0, 0, false, true},
		{1, 0, 0, false, true},
		{0, 1, 0, false, true},
		{1, 1, 0, false, false},
		{0, 2, 0, false, false},
		{2, 0, 0, false, false},
		{1, 0, 1 << 20, false, false},
		{0, 0, 0, true, false},
	} {
		pl.ready = nil
		for range c.ready {
			pl.ready = append(pl.ready, &sandbox{})
		}
		pl.making, pl.closed, pl.idle = c.doing, c.closed, c.idle
		if got := pl.needLocked(); got != c.want {
			t.Errorf("ready %d, making %d, idle %d, closed %v: need %v, want %v", c.ready, c.doing, c.idle, c.closed, got, c.want)
		}
	}
}

// The pool makes sandboxes only once no execution has started or ended
// for PoolConfig.Quiet, and never while one runs.
func TestPoolQuiet(t *testing.T) {
	p := &Provider{}
	pl := &pool{p: p, cfg: PoolConfig{Quiet: time.Hour}}
	p.pool = pl
	pl.wake = make(chan struct{}, 1)
	if wait, busy := pl.quietLeft(); busy || wait > 0 {
		t.Errorf("no execution ever ran: wait %v, busy %v", wait, busy)
	}
	p.executionStarted()
	if _, busy := pl.quietLeft(); !busy {
		t.Error("an execution runs, but the pool may fill")
	}
	p.executionStarted()
	p.executionDone()
	if _, busy := pl.quietLeft(); !busy || len(pl.wake) != 0 {
		t.Errorf("one execution of two ended: busy %v, woken %v", busy, len(pl.wake) != 0)
	}
	p.executionDone()
	if wait, busy := pl.quietLeft(); busy || wait < time.Hour-time.Minute || len(pl.wake) != 1 {
		t.Errorf("the last execution just ended: wait %v, busy %v, woken %v; want about an hour, the pool woken", wait, busy, len(pl.wake) != 0)
	}
	pl.cfg.Quiet = time.Nanosecond
	if wait, busy := pl.quietLeft(); busy || wait > 0 {
		t.Errorf("quiet for longer than Quiet: wait %v, busy %v", wait, busy)
	}
	// A negative Quiet fills at once, while executions run.
	pl.cfg.Quiet = -1
	p.executionStarted()
	if wait, busy := pl.quietLeft(); busy || wait > 0 {
		t.Errorf("Quiet < 0 with an execution running: wait %v, busy %v", wait, busy)
	}
	p.executionDone()
}

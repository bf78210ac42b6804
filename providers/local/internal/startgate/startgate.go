//go:build linux

// Package startgate holds the start gate: while the CPUs are busy,
// executions start a few at a time, callers taking turns.
package startgate

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/computemw/kit/computemw"
)

// The start gate's watch: how often it reads the CPUs' pressure while
// executions wait, and the share of that interval some task may have
// waited for a CPU for the CPUs to count as having room.
const (
	gateTick     = 5 * time.Millisecond
	gateRoomPart = 0.1
)

// Gate lets executions' programs at the CPUs a few at a time while the
// CPUs are busy, fairly between callers: the callers with executions
// waiting take turns, one start each, a caller that arrives with nothing
// in the gate ahead of those whose turns come round again; a caller's
// sessions take turns within its turns; a session's executions start in
// order of arrival (line). A caller that arrives with nothing in the gate
// while another has several in it (a burst) starts at once, beside the
// slots (at most as many as there are slots at a time): the burst's
// executions run at a small CPU weight (Crowded), and a single execution
// then waits for none of them. Up to slots executions hold a
// slot at once. An execution gives its slot back when it ends, or after
// hold: it then counts as long-running and shares the CPUs like any other
// process. A watch that runs only while executions wait reads the
// machine's CPU pressure (/proc/pressure/cpu) each tick and, while tasks
// waited for a CPU less than a tenth of the tick, admits waiters beyond
// the slots, twice as many each tick: the gate orders starts on busy CPUs
// and never keeps one idle (programs that sleep, wait for input or for
// the disk start together, as without it).
//
// Why: executions started at once share the CPUs among all of them, so
// that each ends near the end of the burst; started in order, each ends
// after those that came before it. make bench, section (b), measures the
// gate's share: bursts of 100 pooled sandboxes running `node -v`, through
// the Go API and through the kit's routes (whose MaxSandboxes already
// keeps all but 64 of a burst waiting), beside the same bursts on a
// provider without it.
type Gate struct {
	slots int
	hold  time.Duration
	stall func() time.Duration // cumulative CPU wait; negative when unknown

	mu       sync.Mutex
	inUse    int
	waiters  line
	watching bool
	// present counts each caller's executions in the gate: waiting, or
	// let in and not yet released; crowded the callers with more than
	// one.
	present map[string]int
	crowded int
	// beside counts the executions let in at once, beside the slots,
	// because their caller had nothing else in the gate while another
	// was crowded (at most slots of them).
	beside int

	waited, extra atomic.Uint64
}

// New returns a gate of slots slots, each held for at most hold; nil (no
// gate) when slots is not positive or when the kernel reports no CPU
// pressure to watch.
func New(slots int, hold time.Duration) *Gate {
	if slots <= 0 || cpuStall() < 0 {
		return nil
	}
	return NewWatching(slots, hold, cpuStall)
}

// NewWatching returns a gate like New's that reads the time tasks waited
// for a CPU from stall (negative when unknown) instead of the kernel:
// tests make the CPUs look busy with it.
func NewWatching(slots int, hold time.Duration, stall func() time.Duration) *Gate {
	return &Gate{slots: slots, hold: hold, stall: stall}
}

// Enter waits for a slot, or ctx, in caller's and session's turn (the
// execution's caller, as computemw.ExecOptions.Caller names it, and its
// sandbox). The release it returns gives the slot back; it may be called
// more than once.
func (g *Gate) Enter(ctx context.Context, caller, session string) (release func(), err error) {
	if g == nil {
		return func() {}, nil
	}
	g.mu.Lock()
	fresh := g.present[caller] == 0
	g.enterLocked(caller)
	rel := g.release
	switch {
	case g.inUse < g.slots && g.waiters.n == 0:
		g.inUse++
		g.mu.Unlock()
	case fresh && g.crowded > 0 && g.beside < g.slots:
		// A single execution beside another caller's burst: it starts
		// at once, at the default CPU weight where the burst's run at a
		// small one (Crowded), rather than after the slot it would wait
		// for; at most slots of them at a time, so that many callers
		// with one execution each still take turns.
		g.beside++
		g.mu.Unlock()
		rel = g.releaseBeside
	default:
		ch := make(chan struct{})
		g.waiters.push(caller, session, ch, fresh)
		g.waited.Add(1)
		if !g.watching {
			g.watching = true
			go g.watch()
		}
		g.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			g.mu.Lock()
			waiting := g.waiters.remove(caller, session, ch)
			g.leaveLocked(caller)
			g.mu.Unlock()
			if !waiting {
				g.release() // admitted meanwhile
			}
			return nil, ctx.Err()
		}
	}
	var once sync.Once
	give := func() { once.Do(rel) }
	t := time.AfterFunc(g.hold, give)
	var left sync.Once
	return func() {
		t.Stop()
		give()
		left.Do(func() {
			g.mu.Lock()
			g.leaveLocked(caller)
			g.mu.Unlock()
		})
	}, nil
}

// enterLocked counts an execution of caller into the gate. g.mu is held.
func (g *Gate) enterLocked(caller string) {
	if g.present == nil {
		g.present = make(map[string]int)
	}
	if g.present[caller]++; g.present[caller] == 2 {
		g.crowded++
	}
}

// leaveLocked counts an execution of caller out of the gate. g.mu is held.
func (g *Gate) leaveLocked(caller string) {
	switch g.present[caller]--; g.present[caller] {
	case 1:
		g.crowded--
	case 0:
		delete(g.present, caller)
	}
}

// Crowded reports whether caller has more than one execution in the gate
// (waiting, or let in and not yet ended): such a caller's executions are
// a burst, which the provider runs at a smaller CPU weight than a
// caller's single one (cgroups.Group.SetBulk), so that while CPUs are
// short a request of another caller gets its share at once rather than
// a share among the burst's programs.
func (g *Gate) Crowded(caller string) bool {
	if g == nil {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.present[caller] > 1
}

// release gives a slot back and admits the next waiters it makes room
// for.
func (g *Gate) release() {
	g.mu.Lock()
	g.inUse--
	for g.inUse < g.slots && g.waiters.n > 0 {
		g.admitLocked()
	}
	g.mu.Unlock()
}

// releaseBeside ends an execution let in beside the slots.
func (g *Gate) releaseBeside() {
	g.mu.Lock()
	g.beside--
	g.mu.Unlock()
}

// admitLocked lets the next waiter start.
func (g *Gate) admitLocked() {
	g.inUse++
	close(g.waiters.pop())
}

// watch admits waiters beyond the slots while the CPUs have room, until
// none waits.
func (g *Gate) watch() {
	last, lastAt := g.stall(), time.Now()
	ramp := 1
	for {
		time.Sleep(gateTick)
		stall, now := g.stall(), time.Now()
		g.mu.Lock()
		if g.waiters.n == 0 {
			g.watching = false
			g.mu.Unlock()
			return
		}
		if stall >= 0 && last >= 0 && float64(stall-last) < gateRoomPart*float64(now.Sub(lastAt)) {
			n := min(ramp, g.waiters.n)
			for range n {
				g.admitLocked()
			}
			g.extra.Add(uint64(n))
			ramp *= 2
		} else {
			ramp = 1
		}
		g.mu.Unlock()
		last, lastAt = stall, now
	}
}

// Stats reports the gate's state (zero for a nil gate).
func (g *Gate) Stats() computemw.StartGateStats {
	if g == nil {
		return computemw.StartGateStats{}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return computemw.StartGateStats{Slots: g.slots, Running: g.inUse + g.beside, Waiting: g.waiters.n,
		Waited: g.waited.Load(), Extra: g.extra.Load()}
}

// cpuStall is the time some task waited for a CPU since boot, from the
// kernel's pressure stall information; -1 without it.
func cpuStall() time.Duration {
	b, err := os.ReadFile("/proc/pressure/cpu")
	if err != nil {
		return -1
	}
	_, after, ok := strings.Cut(string(b), "total=")
	if !ok {
		return -1
	}
	v, _, _ := strings.Cut(after, "\n")
	us, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return -1
	}
	return time.Duration(us) * time.Microsecond
}

//go:build linux

package local

import (
	"context"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/computemw/kit/computemw"
)

// pool keeps sandboxes ready for Create: workspace (a tmpfs of its own
// where the server may mount), cgroup, host uid, namespaces and the init
// that starts their programs (or, with recycling off, their first
// process set up by bwrap and waiting for its command, held.go), made
// ahead of demand, so that a pooled sandbox's first execution costs what
// its program costs. Each is handed to one Create at a time; when its
// owner destroys it, it is reset and comes back under a new ID
// (recycle.go), or is destroyed. Its target size starts at
// PoolConfig.Size, doubles each time a create finds it empty (up to
// MaxSize; it fills while the ready sandboxes hold less than MaxIdleMB),
// so that demand which outgrew it finds it ready at the next burst, and
// shrinks back by one per PoolConfig.ShrinkAfter without a miss. It
// makes sandboxes only when no execution has started or ended for
// PoolConfig.Quiet: the mount and namespace work of making a sandbox
// contends in the kernel with every execution's start and end, and made
// beside a running execution a sandbox slowed it by more than a ready one
// saves; a recycled sandbox costs only its reset. An empty pool is never
// an error: Create makes a sandbox on the spot.
type pool struct {
	p   *Provider
	cfg PoolConfig

	mu       sync.Mutex
	ready    []*sandbox
	idle     int64 // the ready sandboxes' idleMem, summed
	target   int
	making   int
	lastMiss time.Time
	closed   bool

	hits, misses atomic.Uint64

	// resetting counts the sandboxes being reset for the pool (recycle.go);
	// resetDone is closed, and replaced, each time one of them ends.
	resetting             int
	resetDone             chan struct{}
	recycled, resetFailed atomic.Uint64

	wake chan struct{}
	stop chan struct{}
	done sync.WaitGroup
}

// newPool starts the refill workers; nil when the pool is off.
func newPool(p *Provider, cfg PoolConfig) *pool {
	if cfg.Size < 0 || cfg.MaxSize <= 0 {
		return nil
	}
	pl := &pool{p: p, cfg: cfg, target: cfg.Size, wake: make(chan struct{}, 1), stop: make(chan struct{}), resetDone: make(chan struct{})}
	for range cfg.Workers {
		pl.done.Add(1)
		go pl.refill()
	}
	pl.poke()
	return pl
}

// poke wakes the refill workers.
func (pl *pool) poke() {
	select {
	case pl.wake <- struct{}{}:
	default:
	}
}

// executionStarted counts an execution's start.
func (p *Provider) executionStarted() {
	p.running.Add(1)
	p.lastExec.Store(time.Now().UnixNano())
}

// executionDone counts an execution's end, and wakes the pool's refill
// when none runs.
func (p *Provider) executionDone() {
	p.lastExec.Store(time.Now().UnixNano())
	if n := p.running.Add(-1); n == 0 && p.pool != nil {
		p.pool.poke()
	}
}

// quietLeft is how long the pool waits before it makes a sandbox: 0 once
// no execution started or ended for PoolConfig.Quiet (at once when it is
// negative); busy while one runs (its end wakes the pool).
func (pl *pool) quietLeft() (wait time.Duration, busy bool) {
	if pl.cfg.Quiet < 0 {
		return 0, false
	}
	if pl.p.running.Load() > 0 {
		return 0, true
	}
	return pl.cfg.Quiet - time.Since(time.Unix(0, pl.p.lastExec.Load())), false
}

// eligible reports whether a create with opts may take a pooled sandbox:
// one made with the provider's defaults. The environment and the time
// limit are applied when it is handed out; network access and other
// limits are not.
func (pl *pool) eligible(opts computemw.CreateOptions) bool {
	r := opts.Resources
	r.MaxExecutionTime = 0
	return !opts.Network && pl.p.limitsFor(r) == pl.p.limitsFor(computemw.Resources{})
}

// recycles reports whether a sandbox made for opts is to be recycled.
func (pl *pool) recycles(opts computemw.CreateOptions) bool {
	return pl != nil && !pl.cfg.Recycle.Off && pl.eligible(opts)
}

// take hands out a ready sandbox adopted for opts, or nil when none is
// ready (the create then makes one, and the pool grows). When none is
// ready but one is being reset, it waits for that reset: a reset takes a
// fraction of what making a sandbox takes. The newest ready sandbox goes
// first (its memory is the likeliest still cached); with SameOwner, only
// a fresh one or one the same owner used.
func (pl *pool) take(ctx context.Context, opts computemw.CreateOptions) *sandbox {
	if pl == nil || !pl.eligible(opts) {
		return nil
	}
	for {
		pl.mu.Lock()
		i := pl.pickLocked(opts.Owner)
		if i < 0 {
			if pl.resetting > 0 && !pl.closed {
				ch := pl.resetDone
				pl.mu.Unlock()
				select {
				case <-ch:
					continue
				case <-ctx.Done():
					return nil
				}
			}
			pl.misses.Add(1)
			pl.lastMiss = time.Now()
			pl.target = min(pl.cfg.MaxSize, max(2*pl.target, pl.target+1))
			pl.mu.Unlock()
			pl.poke()
			return nil
		}
		sb := pl.ready[i]
		pl.ready = slices.Delete(pl.ready, i, i+1)
		pl.idle -= sb.idleMem
		pl.mu.Unlock()
		pl.poke()
		if !sb.readyAlive() || (sb.reuse.recyclable && time.Since(sb.reuse.born) >= pl.cfg.Recycle.MaxAge) {
			// Its first process died while it waited (killed on the
			// host, say), or it is too old to serve: no sandbox to hand
			// out.
			go sb.Destroy(context.Background())
			continue
		}
		pl.hits.Add(1)
		sb.env = maps.Clone(opts.Env)
		if t := opts.Resources.MaxExecutionTime; t > 0 && t < sb.maxExec {
			sb.maxExec = t
		}
		sb.reuse.handedOut = true
		sb.reuse.owner = opts.Owner
		return sb
	}
}

// pickLocked is the index of the ready sandbox a create of owner takes,
// or -1. pl.mu is held.
func (pl *pool) pickLocked(owner string) int {
	for i := len(pl.ready) - 1; i >= 0; i-- {
		r := &pl.ready[i].reuse
		if !pl.cfg.Recycle.SameOwner || r.uses == 0 || (owner != "" && r.owner == owner) {
			return i
		}
	}
	return -1
}

// readyAlive reports whether a ready sandbox can still serve: its held
// shell, or its init, runs.
func (s *sandbox) readyAlive() bool {
	if s.reuse.recyclable {
		return s.initAlive()
	}
	return s.heldAlive()
}

// beginReset reserves the pool's place for a sandbox about to be reset:
// false when the pool is closed, or holds (or will) MaxSize sandboxes or
// MaxIdleMB. A used sandbox is kept up to MaxSize rather than the target:
// it costs a reset where the pool's next one costs its making; shrink
// trims what demand no longer calls for.
func (pl *pool) beginReset() bool {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if pl.closed || len(pl.ready)+pl.resetting >= pl.cfg.MaxSize ||
		pl.idleBytesLocked() >= int64(pl.cfg.MaxIdleMB)<<20 {
		return false
	}
	pl.resetting++
	return true
}

// endReset ends a reset beginReset counted: sb, when it succeeded, joins
// the ready sandboxes; false when the pool closed meanwhile (the caller
// then destroys sb).
func (pl *pool) endReset(sb *sandbox) bool {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	pl.resetting--
	close(pl.resetDone)
	pl.resetDone = make(chan struct{})
	if sb == nil {
		return true
	}
	if pl.closed {
		return false
	}
	pl.ready = append(pl.ready, sb)
	pl.idle += sb.idleMem
	return true
}

// refill makes sandboxes while the pool is below its target and its idle
// memory below the cap; it also shrinks the target when demand fell.
func (pl *pool) refill() {
	defer pl.done.Done()
	tick := time.NewTicker(pl.cfg.ShrinkAfter)
	defer tick.Stop()
	backoff := time.Duration(0)
	for {
		select {
		case <-pl.stop:
			return
		case <-pl.wake:
		case <-tick.C:
			pl.shrink()
		}
	fill:
		for {
			switch wait, busy := pl.quietLeft(); {
			case busy:
				break fill
			case wait > 0:
				select {
				case <-pl.stop:
					return
				case <-time.After(wait):
				}
				continue
			}
			pl.mu.Lock()
			need := pl.needLocked()
			if need {
				pl.making++
			}
			pl.mu.Unlock()
			if !need {
				break
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			go func() {
				select {
				case <-pl.stop:
					cancel()
				case <-ctx.Done():
				}
			}()
			sb, err := pl.make(ctx)
			cancel()
			if err == nil && sb.cg != nil {
				// Read once, outside the lock: an idle sandbox's memory
				// stays what it was when it became ready.
				sb.idleMem = sb.cg.Memory()
			}
			pl.mu.Lock()
			pl.making--
			if err == nil && pl.closed {
				pl.mu.Unlock()
				_ = sb.Destroy(context.Background())
				return
			}
			if err == nil {
				pl.ready = append(pl.ready, sb)
				pl.idle += sb.idleMem
			}
			pl.mu.Unlock()
			if err != nil && pl.stopped() {
				return
			}
			if err != nil {
				// A failing host (out of uids, cgroups) is not hammered:
				// back off, then try again on the next wake or tick.
				pl.p.log.Warn("computemw/local: warm pool: create failed", "error", err)
				backoff = min(max(2*backoff, 100*time.Millisecond), 10*time.Second)
				select {
				case <-pl.stop:
					return
				case <-time.After(backoff):
				}
				break
			}
			backoff = 0
		}
	}
}

// make makes a sandbox and starts its first process, held until the
// sandbox's first execution (held.go).
func (pl *pool) make(ctx context.Context) (*sandbox, error) {
	def, err := pl.p.templateFor("")
	if err != nil {
		return nil, err
	}
	sb, err := pl.p.createCold(ctx, computemw.CreateOptions{}, def)
	if err != nil {
		return nil, err
	}
	if pl.cfg.Recycle.Off {
		err = sb.hold(ctx)
	} else {
		// A sandbox to recycle keeps its namespaces between users: its
		// init serves every execution.
		err = sb.startRecyclable(ctx)
	}
	if err != nil {
		_ = sb.Destroy(context.Background())
		return nil, err
	}
	return sb, nil
}

// stopped reports whether close has stopped the workers.
func (pl *pool) stopped() bool {
	select {
	case <-pl.stop:
		return true
	default:
		return false
	}
}

// needLocked reports whether the pool should make a sandbox: while it is
// below its target and its memory cap (and quiet: refill). pl.mu is held.
func (pl *pool) needLocked() bool {
	return !pl.closed && len(pl.ready)+pl.making+pl.resetting < pl.target &&
		pl.idleBytesLocked() < int64(pl.cfg.MaxIdleMB)<<20
}

// shrink lowers the target by one when no create missed for ShrinkAfter,
// and destroys ready sandboxes above it.
func (pl *pool) shrink() {
	pl.mu.Lock()
	if pl.target > pl.cfg.Size && time.Since(pl.lastMiss) >= pl.cfg.ShrinkAfter {
		pl.target--
	}
	var extra []*sandbox
	for len(pl.ready) > pl.target {
		extra = append(extra, pl.ready[len(pl.ready)-1])
		pl.ready = pl.ready[:len(pl.ready)-1]
		pl.idle -= extra[len(extra)-1].idleMem
	}
	pl.mu.Unlock()
	for _, sb := range extra {
		_ = sb.Destroy(context.Background())
	}
}

// idleBytesLocked is the memory the ready sandboxes hold, as their
// cgroups counted it when each became ready (0 without cgroups): kept as
// a sum, so that deciding on a refill, or a create taking a sandbox,
// never waits for a file read per ready sandbox. pl.mu is held.
func (pl *pool) idleBytesLocked() int64 { return pl.idle }

// stats reports the pool for metrics.
func (pl *pool) stats() computemw.PoolStats {
	if pl == nil {
		return computemw.PoolStats{}
	}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return computemw.PoolStats{
		Ready: len(pl.ready), Target: pl.target,
		Hits: pl.hits.Load(), Misses: pl.misses.Load(),
		IdleBytes: pl.idleBytesLocked(),
		Recycled:  pl.recycled.Load(), ResetFailed: pl.resetFailed.Load(),
	}
}

// close stops the workers and destroys the ready sandboxes.
func (pl *pool) close(ctx context.Context) error {
	if pl == nil {
		return nil
	}
	pl.mu.Lock()
	pl.closed = true
	ready := pl.ready
	pl.ready = nil
	pl.idle = 0
	pl.mu.Unlock()
	close(pl.stop)
	pl.done.Wait()
	var first error
	for _, sb := range ready {
		if err := sb.Destroy(ctx); err != nil && first == nil {
			first = err
		}
	}
	return first
}

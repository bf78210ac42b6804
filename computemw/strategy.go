package computemw

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Strategy picks the providers a sandbox creation tries when the request
// names none (a request that names a provider uses exactly that one). Set
// it in Config.Strategy with [Priority], [Fallback] or [RoundRobin]; a
// provider marked unhealthy (Config.UnhealthyAfter provider errors in a
// row) is skipped until a health probe finds it back.
//
// Every try is a creation of the kit's one governed path: the strategy only
// names providers, and the hooks see the provider actually used.
type Strategy interface {
	// Providers lists every provider the strategy may name; [New] checks
	// that each is registered.
	Providers() []string
	// Order returns the providers one creation tries, best first.
	Order() []string
	// Fallback reports whether a creation that fails with a provider error
	// (the provider is down: 503, 5xx) tries the next provider of Order.
	// A caller's error (bad request, timeout, limits) never falls back.
	Fallback() bool
}

type listStrategy struct {
	names    []string
	fallback bool
}

func (s *listStrategy) Providers() []string { return slices.Clone(s.names) }
func (s *listStrategy) Order() []string     { return slices.Clone(s.names) }
func (s *listStrategy) Fallback() bool      { return s.fallback }

// Priority uses the first healthy provider of names, in order, and does
// not try another when it fails.
func Priority(names ...string) Strategy { return &listStrategy{names: names} }

// Fallback uses the first healthy provider of names and, when it fails
// with a provider error, the next healthy one, in order.
func Fallback(names ...string) Strategy { return &listStrategy{names: names, fallback: true} }

type roundRobin struct {
	names []string
	next  atomic.Uint64
}

// RoundRobin spreads creations over names in turn (skipping unhealthy
// ones); a creation that fails with a provider error tries the next.
func RoundRobin(names ...string) Strategy { return &roundRobin{names: names} }

func (s *roundRobin) Providers() []string { return slices.Clone(s.names) }
func (s *roundRobin) Fallback() bool      { return true }
func (s *roundRobin) Order() []string {
	if len(s.names) == 0 {
		return nil
	}
	start := int((s.next.Add(1) - 1) % uint64(len(s.names)))
	return append(slices.Clone(s.names[start:]), s.names[:start]...)
}

// checkStrategy validates cfg.Strategy against the registry.
func (k *Kit) checkStrategy() error {
	s := k.cfg.Strategy
	if s == nil {
		return nil
	}
	names := s.Providers()
	if len(names) == 0 {
		return fmt.Errorf("computemw: config: the strategy names no provider")
	}
	for _, n := range names {
		if _, ok := k.providers.Get(n); !ok {
			return fmt.Errorf("computemw: config: the strategy names provider %q, which is not registered", n)
		}
	}
	return nil
}

// pick resolves the provider of a creation: the one named, else (with a
// strategy) the providers the strategy tries, healthy ones only, else the
// default. plan is nil when there is only one provider to try.
func (k *Kit) pick(name string) (p Provider, plan []string, err error) {
	if name != "" || k.cfg.Strategy == nil {
		p, err := k.provider(name)
		return p, nil, err
	}
	order := k.cfg.Strategy.Order()
	plan = make([]string, 0, len(order))
	for _, n := range order {
		if k.ph.healthy(n) {
			plan = append(plan, n)
		} else {
			k.probeLater(n)
		}
	}
	if len(plan) == 0 {
		return nil, nil, &Error{Code: CodeUnavailable, Message: "no provider is healthy, retry later", RetryAfter: capacityRetryAfter}
	}
	if !k.cfg.Strategy.Fallback() {
		plan = plan[:1]
	}
	p, err = k.provider(plan[0])
	if len(plan) == 1 {
		plan = nil
	}
	return p, plan, err
}

// isProviderError reports whether a provider's Create error says the
// provider is down (503 UNAVAILABLE or an internal failure), as opposed to
// an error of the caller's (bad request, timeout, limits, client gone).
func isProviderError(err error) bool {
	switch AsError(err).Code {
	case CodeUnavailable, CodeInternal:
		return true
	}
	return false
}

// providerHealth counts each provider's consecutive provider errors; at
// Config.UnhealthyAfter the provider is down until a probe succeeds.
type providerHealth struct {
	mu      sync.Mutex
	after   int
	fails   map[string]int
	down    map[string]bool
	probing map[string]bool
	probed  map[string]time.Time
}

func (h *providerHealth) init(after int) {
	h.after = after
	h.fails = map[string]int{}
	h.down = map[string]bool{}
	h.probing = map[string]bool{}
	h.probed = map[string]time.Time{}
}

func (h *providerHealth) healthy(name string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.down[name]
}

// result records a creation's outcome on name; it reports whether the
// provider just went down.
func (h *providerHealth) result(name string, err error) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		h.fails[name] = 0
		return false
	}
	if !isProviderError(err) {
		return false
	}
	h.fails[name]++
	if h.fails[name] >= h.after && !h.down[name] {
		h.down[name] = true
		return true
	}
	return false
}

// probeResult records a health probe of name.
func (h *providerHealth) probeResult(name string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		h.fails[name] = 0
		h.down[name] = false
	}
}

// providerHealthy reports whether the strategy currently uses the named
// provider: false after Config.UnhealthyAfter provider errors in a row,
// until a health probe (GET /health, or the kit's own in the background)
// succeeds.
func (k *Kit) providerHealthy(name string) bool { return k.ph.healthy(name) }

// probeLater probes an unhealthy provider in the background, at most once
// per Config.HealthInterval, so that it comes back when it recovers.
func (k *Kit) probeLater(name string) {
	k.ph.mu.Lock()
	if k.ph.probing[name] || time.Since(k.ph.probed[name]) < k.cfg.HealthInterval {
		k.ph.mu.Unlock()
		return
	}
	k.ph.probing[name] = true
	k.ph.mu.Unlock()
	started := k.bg.goFunc(func(ctx context.Context) {
		// Not through the /health cache: Close cancels this probe.
		pctx, cancel := context.WithTimeout(ctx, k.cfg.HealthTimeout)
		err := k.probe(pctx, name)
		cancel()
		k.ph.probeResult(name, err)
		k.ph.mu.Lock()
		k.ph.probing[name] = false
		k.ph.probed[name] = time.Now()
		k.ph.mu.Unlock()
		if err != nil {
			k.log.WarnContext(ctx, "computemw: provider still unhealthy", "provider", name, "error", err)
		}
	})
	if !started {
		k.ph.mu.Lock()
		k.ph.probing[name] = false
		k.ph.mu.Unlock()
	}
}

// background runs the kit's own goroutines (probes, the session reaper)
// until Close stops them.
type background struct {
	mu     sync.Mutex
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   bool
}

func (b *background) init() { b.ctx, b.cancel = context.WithCancel(context.Background()) }

// goFunc runs fn in a goroutine unless the kit is closing; it reports
// whether it did.
func (b *background) goFunc(fn func(ctx context.Context)) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return false
	}
	b.wg.Go(func() { fn(b.ctx) })
	return true
}

// stop cancels the goroutines and waits for them.
func (b *background) stop() {
	b.mu.Lock()
	b.done = true
	b.mu.Unlock()
	b.cancel()
	b.wg.Wait()
}

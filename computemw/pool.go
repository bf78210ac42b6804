package computemw

// PoolStats describe a provider's warm pool: sandboxes made ahead of
// demand, each handed to one Create and never reused.
type PoolStats struct {
	// Ready is the number of sandboxes waiting to be handed out.
	Ready int
	// Target is the number the pool refills to now (it grows with demand
	// and shrinks back when demand falls).
	Target int
	// Hits counts creates served from the pool; Misses creates that found
	// it empty and made a sandbox on the spot.
	Hits, Misses uint64
	// IdleBytes is the memory the ready sandboxes hold together (0 when
	// the provider cannot measure it).
	IdleBytes int64
	// Recycled counts sandboxes reset and returned to the pool after use;
	// ResetFailed those whose reset failed, which were destroyed instead.
	Recycled, ResetFailed uint64
}

// PoolReporter is implemented by providers that keep a warm pool; metrics
// read it when scraped.
type PoolReporter interface {
	PoolStats() PoolStats
}

// PoolStats returns the warm-pool statistics of every provider that keeps
// one, by provider name.
func (k *Kit) poolStats() map[string]PoolStats {
	out := map[string]PoolStats{}
	for _, name := range k.providers.Names() {
		p, _ := k.providers.Get(name)
		if r, ok := p.(PoolReporter); ok {
			out[name] = r.PoolStats()
		}
	}
	return out
}

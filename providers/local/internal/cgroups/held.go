//go:build linux

package cgroups

import "sync"

// heldLimits are the limits a group was last given, so that giving it the
// same ones again writes nothing: a recycled sandbox's reset gives its
// group the default limits, which it nearly always holds, and each write
// is a walk of the cgroup path and, for memory, a check of the group's
// usage against the new limit.
type heldLimits struct {
	mu  sync.Mutex
	lim Limits
	ok  bool
}

// has reports whether the group holds lim.
func (h *heldLimits) has(lim Limits) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ok && h.lim == lim
}

// set records that the group holds lim.
func (h *heldLimits) set(lim Limits) {
	h.mu.Lock()
	h.lim, h.ok = lim, true
	h.mu.Unlock()
}

// forget records that what the group holds is not known (a write
// failed part way).
func (h *heldLimits) forget() {
	h.mu.Lock()
	h.ok = false
	h.mu.Unlock()
}

// bulkWeight is whether a group was last given the bulk CPU weight, so
// that giving it the same again writes nothing (a burst's executions
// all ask for it).
type bulkWeight struct {
	mu   sync.Mutex
	bulk bool // false: the default weight, as a group is made
}

// set calls write when bulk differs from what the group holds.
func (b *bulkWeight) set(bulk bool, write func(bool) error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bulk == bulk {
		return nil
	}
	if err := write(bulk); err != nil {
		return err
	}
	b.bulk = bulk
	return nil
}

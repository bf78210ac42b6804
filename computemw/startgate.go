package computemw

// StartGateStats describe a provider's start gate: executions let at busy
// CPUs a few at a time, their callers taking turns.
type StartGateStats struct {
	// Slots is the gate's size; 0 when the provider has no gate.
	Slots int
	// Running is how many executions hold a slot (above Slots while the
	// gate let some start beyond them, the CPUs having room), and
	// Waiting how many wait for one.
	Running, Waiting int
	// Waited counts the executions that had to wait, and Extra those
	// that started beyond the slots because the CPUs had room.
	Waited, Extra uint64
}

// StartGateReporter is implemented by providers that order executions'
// starts; metrics read it when scraped.
type StartGateReporter interface {
	StartGateStats() StartGateStats
}

// StartGateStats returns the start-gate statistics of every provider that
// has a gate, by provider name.
func (k *Kit) startGateStats() map[string]StartGateStats {
	out := map[string]StartGateStats{}
	for _, name := range k.providers.Names() {
		p, _ := k.providers.Get(name)
		if r, ok := p.(StartGateReporter); ok {
			if s := r.StartGateStats(); s.Slots > 0 {
				out[name] = s
			}
		}
	}
	return out
}

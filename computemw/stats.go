package computemw

// Stats is a snapshot of what a kit holds and waits for, for metrics and
// load tests.
type Stats struct {
	// Live is the number of sandboxes alive (per-request sandboxes,
	// sessions and connections' sandboxes together).
	Live int
	// Queued is the number of sandbox creations waiting for a slot of
	// Config.MaxSandboxes, and SessionWaiters the session creations
	// waiting for a session slot.
	Queued, SessionWaiters int
	// Pools are the warm pools of the providers that keep one, and
	// StartGates the start gates of those that have one, by provider name.
	Pools      map[string]PoolStats
	StartGates map[string]StartGateStats
}

// Stats returns a snapshot of the kit's sandboxes, queues, warm pools and
// start gates.
func (k *Kit) Stats() Stats {
	return Stats{
		Live:           k.liveSandboxes(),
		Queued:         k.queueDepth(),
		SessionWaiters: k.sessionWaiters(),
		Pools:          k.poolStats(),
		StartGates:     k.startGateStats(),
	}
}

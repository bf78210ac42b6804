package computemw

import (
	"context"
	"sync"
	"time"
)

// UsageMeter is implemented by policies that account for what sandboxes
// use outside the results of their executions, such as a quota. Every
// Config.UsageCheckInterval the kit calls:
//
//   - CheckUsage for each open terminal, with what it has used so far (not
//     yet recorded anywhere): the first error ends the terminal, which is
//     how a caller whose allowance is spent is stopped mid-session;
//   - MeterUsage for each sandbox, with what it used that no execution
//     has reported: background processes, and whatever else runs in it
//     between executions. The kit reads every sandbox's cumulative
//     [Sandbox.Usage] at that interval and once more when the sandbox is
//     destroyed (executions and terminals report their own measurements to
//     [Hooks].ExecutionFinished, which MeterUsage never sees again).
//
// For MeterUsage, ctx is the context of the sandbox's creation (its
// [Principal] is the one to charge) and a describes the sandbox. An error,
// such as QUOTA_EXCEEDED, stops the sandbox's running work: its terminals
// are closed with that error and its processes killed (with a
// [ProcessManager]); the sandbox and its files stay. Calls for one sandbox
// never overlap; they must be bounded in time, as they hold the sandbox's
// meter.
type UsageMeter interface {
	CheckUsage(ctx context.Context, a *Action, sofar *Result) error
	MeterUsage(ctx context.Context, a *Action, m *Metered) error
}

// Metered is what one sandbox used over a span that no execution has
// reported, for [UsageMeter].
type Metered struct {
	// SandboxID and Provider name the sandbox.
	SandboxID string
	Provider  string
	// CPUTime is the CPU time to charge.
	CPUTime time.Duration
	// PeakMemory is the sandbox's peak memory, in bytes, and MemoryTime
	// the wall time to charge it for: the span's, when something ran in
	// it (CPUTime > 0), else zero.
	PeakMemory int64
	MemoryTime time.Duration
	// Pending is the CPU time the sandbox used meanwhile that its running
	// executions (or terminals) will report themselves when they end: not
	// to charge, but to count when deciding whether the work may go on.
	Pending time.Duration
	// IdleTime is the wall time the sandbox was held with nothing running
	// in it, for a session or a connection's sandbox (a request sandbox
	// is never idle): holding a sandbox holds capacity, and a meter may
	// charge it.
	IdleTime time.Duration
	// Final marks the last reading, as the sandbox is destroyed.
	Final bool
}

// meterCallTimeout bounds each call the meter makes to a sandbox: a
// reading of its usage, a listing or a kill of its processes.
const meterCallTimeout = 5 * time.Second

// meter charges one sandbox's usage that no execution reported, to the
// kit's [UsageMeter]s. It keeps, on the sandbox's own clock (its
// cumulative CPU time), how much has been charged by anyone: what its
// executions reported and what the meter charged. A reading past that,
// taken while no execution runs, is the CPU that nothing reported; while
// executions run, the charge waits for them (they measure their own span),
// and the reading only counts in the decision to stop.
type meter struct {
	g      *governed
	meters []UsageMeter
	ctx    context.Context // the creator's, without its cancellation
	a      *Action         // the sandbox, as the meters see it
	held   bool            // a session's or a connection's: idle time is charged
	stop   chan struct{}
	done   chan struct{}

	mu       sync.Mutex
	charged  time.Duration // the sandbox's CPU time accounted for
	inFlight int           // executions and terminals running
	ends     uint64        // executions and terminals ended
	last     time.Time     // the end of the last span charged
}

// usageMeters lists the kit's policies and metrics exporter that
// implement [UsageMeter], each once.
func (k *Kit) usageMeters() []UsageMeter {
	var out []UsageMeter
	seen := map[any]bool{}
	for _, v := range k.extensions() {
		if m, ok := v.(UsageMeter); ok && !seen[v] {
			seen[v] = true
			out = append(out, m)
		}
	}
	return out
}

// startMeter meters g, a sandbox this instance created for a, when the kit
// has usage meters (a health probe's sandbox is nobody's). The sandbox's usage so far (a pooled sandbox's
// warm-up) is nobody's: it is the meter's starting point.
func (k *Kit) startMeter(ctx context.Context, a *Action, g *governed) {
	if len(k.meters) == 0 || a.Op == OpHealth {
		return
	}
	m := &meter{g: g, meters: k.meters, ctx: context.WithoutCancel(ctx),
		a:    &Action{Op: a.Op, Provider: g.raw.Provider(), Language: a.Language, Create: a.Create, SandboxID: g.raw.ID()},
		held: a.Op == OpSessions || a.Op == OpWebSocket,
		stop: make(chan struct{}), done: make(chan struct{}), last: time.Now()}
	uctx, cancel := context.WithTimeout(m.ctx, meterCallTimeout)
	if u, err := g.raw.Usage(uctx); err == nil {
		m.charged = u.CPUTime
	}
	cancel()
	g.meter = m
	go m.run(k.cfg.UsageCheckInterval)
}

// begin counts an execution or terminal that starts in the sandbox.
func (m *meter) begin() {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.inFlight++
	m.mu.Unlock()
}

// end counts its end, with the CPU time it reported (res may be nil).
func (m *meter) end(res *Result) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.inFlight--
	m.ends++
	if res != nil && res.CPUTime > 0 {
		m.charged += res.CPUTime
	}
	m.last = time.Now()
	m.mu.Unlock()
}

func (m *meter) run(interval time.Duration) {
	defer close(m.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-tick.C:
		}
		if err := m.measure(false); err != nil {
			m.stopWork(err)
		}
	}
}

// finish stops the meter and charges what the sandbox used since its last
// reading: called by Destroy while the sandbox can still measure it.
func (m *meter) finish(ctx context.Context) {
	if m == nil {
		return
	}
	close(m.stop)
	select {
	case <-m.done:
	case <-ctx.Done():
		return
	}
	_ = m.measure(true)
}

// measure reads the sandbox's usage and hands the meters what nothing has
// charged yet; it returns the first meter's refusal.
func (m *meter) measure(final bool) error {
	m.mu.Lock()
	ends := m.ends
	m.mu.Unlock()
	uctx, cancel := context.WithTimeout(m.ctx, meterCallTimeout)
	u, err := m.g.raw.Usage(uctx)
	cancel()
	if err != nil {
		return nil // not measured this time; the next reading counts it
	}
	now := time.Now()
	md := Metered{SandboxID: m.a.SandboxID, Provider: m.a.Provider, Final: final}
	m.mu.Lock()
	uncharged := max(0, u.CPUTime-m.charged)
	// An execution that ended after the reading began may have reported
	// CPU time the reading does not hold: charge at the next reading.
	if m.inFlight == 0 && m.ends == ends {
		md.CPUTime = uncharged
		m.charged += uncharged
		if uncharged > 0 {
			md.PeakMemory, md.MemoryTime = u.PeakMemory, now.Sub(m.last)
		} else if m.held {
			md.IdleTime = now.Sub(m.last)
		}
		m.last = now
	} else {
		md.Pending = uncharged
	}
	m.mu.Unlock()
	if md.CPUTime <= 0 && md.IdleTime <= 0 && (md.Pending <= 0 || final) {
		return nil
	}
	for _, um := range m.meters {
		if err := um.MeterUsage(m.ctx, m.a, &md); err != nil {
			return err
		}
	}
	return nil
}

// stopWork ends what runs in the sandbox because a meter refused it: the
// terminals are closed with err, the processes killed. The sandbox stays;
// new work goes through the policies, which refuse it.
func (m *meter) stopWork(err error) {
	g := m.g
	g.k.log.InfoContext(m.ctx, "computemw: stopping a sandbox's work", "sandbox", m.a.SandboxID, "reason", err)
	g.mu.Lock()
	terms := make([]*governedTerminal, 0, len(g.terms))
	for t := range g.terms {
		terms = append(terms, t)
	}
	g.mu.Unlock()
	for _, t := range terms {
		t.stop(err)
	}
	pm, ok := g.raw.(ProcessManager)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(m.ctx, meterCallTimeout)
	defer cancel()
	procs, perr := pm.Processes(ctx)
	if perr != nil {
		return
	}
	// Background programs first (each with its process group), then
	// anything left; the listing is bounded by the sandbox's process
	// limit.
	for _, bg := range []bool{true, false} {
		for _, p := range procs {
			if p.Background == bg && p.PID > 1 && ctx.Err() == nil {
				_ = pm.KillProcess(ctx, p.PID)
			}
		}
	}
}

package main

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// cpuSeries is the CPU time the whole machine spent per request over a
// sequential series, from /proc/stat: the request's own work and all it
// leaves to others (the kit's background destroy, the pool's refill, the
// kernel's teardown of namespaces). The host is shared: what it spends
// while idle, measured just before and after each round, is taken off.
type cpuSeries struct {
	name      string
	ok, want  int
	cpu       time.Duration   // per request, the median of the rounds', the idle host's share taken off
	raw       time.Duration   // per request, the median of the rounds', all of /proc/stat
	idleShare time.Duration   // per request, what the idle host spent in the same time (the median round's)
	wall      time.Duration   // median latency
	nets      []time.Duration // each round's cpu
}

// pooledCPU is the median of the rounds of a and b, the idle host's
// share taken off.
func pooledCPU(a, b cpuSeries) time.Duration {
	var xs []float64
	for _, d := range append(slices.Clone(a.nets), b.nets...) {
		xs = append(xs, float64(d))
	}
	return time.Duration(median(xs))
}

// cpuRounds is how many rounds of n requests a CPU series has; its figure
// is their median.
const cpuRounds = 3

// idleWindow is how long the host's own CPU use is measured before and
// after each round.
const idleWindow = 500 * time.Millisecond

// busyCPU returns the time all CPUs have spent busy since boot (user,
// nice, system, irq, softirq; not idle, iowait or steal).
func busyCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7} { // user nice system irq softirq
		if i < len(f) {
			v, _ := strconv.ParseInt(f[i], 10, 64)
			ticks += v
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ is 100
}

// measureCPU runs cpuRounds rounds, each: fn n times one after another
// and after (the work a request leaves to the background: a destroy, a
// refill), between two spans of idleWindow with nothing of this program
// running, which give the idle host's rate. It returns the median
// round's CPU time per request, with and without that rate over the
// round taken off, and the median wall time.
func measureCPU(name string, n int, fn func() error, after func()) cpuSeries {
	type round struct{ net, raw, idle time.Duration }
	var rounds []round
	var all series
	idleRate := func() float64 {
		t0, c0 := time.Now(), busyCPU()
		time.Sleep(idleWindow)
		return float64(busyCPU()-c0) / float64(time.Since(t0))
	}
	for range cpuRounds {
		rate := idleRate()
		start, before := time.Now(), busyCPU()
		s := measure(n, 1, fn)
		after()
		used, took := busyCPU()-before, time.Since(start)
		rate = (rate + idleRate()) / 2
		idle := time.Duration(rate * float64(took))
		per := time.Duration(max(n, 1))
		rounds = append(rounds, round{(used - idle) / per, used / per, idle / per})
		all.d = append(all.d, s.d...)
	}
	slices.SortFunc(rounds, func(a, b round) int { return int(a.net - b.net) })
	nets := make([]time.Duration, len(rounds))
	for i, r := range rounds {
		nets[i] = r.net
	}
	mid := rounds[len(rounds)/2]
	raws := make([]float64, len(rounds))
	for i, r := range rounds {
		raws[i] = float64(r.raw)
	}
	return cpuSeries{name: name, ok: len(all.d), want: cpuRounds * n, cpu: mid.net, raw: time.Duration(median(raws)), idleShare: mid.idle, wall: all.pct(.5), nets: nets}
}

// quiesce waits (at most 30 seconds) until the provider's pool is full,
// every other sandbox of it gone (destroyed, or reset and back in the
// pool) and its counters still for 60 ms: the background work a series
// leaves is part of its cost.
func quiesce(p *local.Provider) func() {
	return func() {
		deadline := time.Now().Add(30 * time.Second)
		var last computemw.PoolStats
		for still := 0; still < 3 && time.Now().Before(deadline); {
			s := p.PoolStats()
			full := poolFull(s)
			s.IdleBytes = 0 // measured, not counted: it moves by itself
			if full && p.SandboxCount() <= s.Ready && s == last {
				still++
			} else {
				still = 0
			}
			last = s
			time.Sleep(20 * time.Millisecond)
		}
		if time.Now().After(deadline) {
			progress("    the pool did not settle within 30 s: %+v, %d sandboxes", p.PoolStats(), p.SandboxCount())
		}
	}
}

// cpuReport prints the CPU a request costs the machine, and what that
// bounds: a sequential series cannot average below its CPU per request
// over the CPUs.
func cpuReport(tw *tabwriter.Writer, bareNode, floor, warmNode, coldNode, coldTrue cpuSeries) {
	cpus := time.Duration(max(numCPU(), 1))
	printf("\n")
	fmt.Fprintf(tw, "(a) CPU per request, %d rounds of %d one after another, all CPUs (median round)\tok\tCPU\tidle host's share taken off\tmedian\tCPU vs baseline\n", cpuRounds, *n)
	for _, r := range []struct {
		s    cpuSeries
		base cpuSeries
	}{{bareNode, bareNode}, {warmNode, bareNode}, {coldNode, bareNode}, {floor, floor}, {coldTrue, floor}} {
		fmt.Fprintf(tw, "%s\t%d/%d\t%s\t%s\t%s\t%.2fx\n", r.s.name, r.s.ok, r.s.want, ms(r.s.cpu), ms(r.s.idleShare), ms(r.s.wall), ratio(float64(r.s.cpu), float64(r.base.cpu)))
	}
	tw.Flush()
	bound := func(s cpuSeries) string {
		b := s.cpu / cpus
		return fmt.Sprintf("%s (%.2fx bare `node -v`)", ms(b), float64(b)/float64(bareNode.wall))
	}
	printf("    requests one after another cannot average below CPU / %d CPUs: warm pool %s, pool off %s\n", cpus, bound(warmNode), bound(coldNode))
}

package main

import (
	"fmt"
	"os"
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
// kernel's teardown of namespaces).
type cpuSeries struct {
	name string
	n    int
	cpu  time.Duration // per request
	wall time.Duration // median
}

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

// measureCPU runs fn n times one after another, waits for after (the
// work a request leaves to the background: a destroy, a refill), and
// returns the CPU time per request and the median wall time.
func measureCPU(name string, n int, fn func() error, after func()) cpuSeries {
	before := busyCPU()
	s := measure(n, 1, fn)
	after()
	return cpuSeries{name: name, n: len(s.d), cpu: (busyCPU() - before) / time.Duration(max(n, 1)), wall: s.pct(.5)}
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
	fmt.Fprintf(tw, "(a) CPU per request, %d one after another, all CPUs\tok\tCPU\tmedian\tCPU vs baseline\n", *n)
	for _, r := range []struct {
		s    cpuSeries
		base cpuSeries
	}{{bareNode, bareNode}, {warmNode, bareNode}, {coldNode, bareNode}, {floor, floor}, {coldTrue, floor}} {
		fmt.Fprintf(tw, "%s\t%d/%d\t%s\t%s\t%.2fx\n", r.s.name, r.s.n, *n, ms(r.s.cpu), ms(r.s.wall), float64(r.s.cpu)/float64(r.base.cpu))
	}
	tw.Flush()
	bound := func(s cpuSeries) string {
		b := s.cpu / cpus
		return fmt.Sprintf("%s (%.2fx bare `node -v`)", ms(b), float64(b)/float64(bareNode.wall))
	}
	printf("    requests one after another cannot average below CPU / %d CPUs: warm pool %s, pool off %s\n", cpus, bound(warmNode), bound(coldNode))
}

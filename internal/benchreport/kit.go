package main

// Phase 3: the kit. Its providers are made here and closed at the end.

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// kitResults are the series of phase 3 the targets need.
type kitResults struct {
	cgroup    int
	config    string
	seq       series    // back to back, warm pool
	cpu       cpuSeries // back to back, warm pool, its background included
	conc      series    // `true`, *conc clients
	big       series    // burst of *big, alone
	bigShared series    // burst of *big, the second caller's requests beside it
	idle      series    // the second caller on an idle kit
	during    series    // the second caller during the burst of *big
	fairness  string    // how the callers are told apart
}

// benchQueueTimeout is the kit's queue timeout, long enough that none of
// a burst of 1000 from one caller times out waiting (MaxSandboxes and
// QueueDepth keep their defaults, 64 and 1024, which hold it).
const benchQueueTimeout = 5 * time.Minute

// benchKit is the config of every kit of the phase: the provider p, the
// queue timeout above, the rest the defaults.
func benchKit(p computemw.Provider, log *slog.Logger) computemw.Config {
	return computemw.Config{Providers: []computemw.Provider{p}, Logger: log, QueueTimeout: benchQueueTimeout}
}

// runKit runs phase 3.
func runKit(ctx context.Context, b baselines, peer peerResults) (kitResults, error) {
	var k kitResults
	quiet := slog.New(slog.DiscardHandler)
	warm, err := local.New(local.Config{Logger: quiet})
	if err != nil {
		return k, err
	}
	k.cgroup = warm.CgroupVersion()
	warmKit, err := computemw.New(benchKit(warm, quiet))
	if err != nil {
		warm.Close(ctx)
		return k, err
	}
	defer warmKit.Close(ctx) // closes warm
	cold, err := local.New(local.Config{Logger: quiet, WarmPool: local.PoolConfig{Size: -1}})
	if err != nil {
		return k, err
	}
	coldKit, err := computemw.New(benchKit(cold, quiet))
	if err != nil {
		cold.Close(ctx)
		return k, err
	}
	defer coldKit.Close(ctx)
	k.config = fmt.Sprintf("provider: default config (recycling %s); kit: default config (MaxSandboxes 64, MaxSandboxesPerPrincipal 56, QueueDepth 1024) except QueueTimeout %v (so that none of the burst of %d times out in the queue)",
		recycleNote(), benchQueueTimeout, *big)

	mux := http.NewServeMux()
	computehttp.Mount(mux, "/api", warmKit)
	computehttp.Mount(mux, "/cold", coldKit)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return k, err
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()
	client := newClient("")
	defer client.CloseIdleConnections()
	nodeV := `{"command":"node -v"}`
	tw := newTable()

	// (a) Time to interactive, sequential.
	if section("a") {
		progress("  (a) back to back")
		quiesce(warm)()
		ps := warm.PoolStats()
		k.seq = measure(*n, 1, post(client, base, "/api/exec", nodeV))
		k.seq.name = "warm pool, back to back" + poolNote(ps, warm.PoolStats())
		seqEager, err := eagerSeries(ctx, mux, quiet, client, base, nodeV)
		if err != nil {
			return k, err
		}
		quiesce(warm)()
		seqCold := measure(*n, 1, post(client, base, "/cold/exec", nodeV))
		seqCold.name = fmt.Sprintf("pool off (cold), back to back, %d ready sandboxes on the host", warm.PoolStats().Ready)

		// As ComputeSDK's benchmark runs it: each request once the last
		// one's sandbox is destroyed (and the pool, which fills in quiet
		// moments, is full again), one every pace. Warm and cold
		// requests take turns, so that both meet the machine in the same
		// state.
		progress("  (a) paced")
		quiesce(warm)()
		ps = warm.PoolStats()
		var pacedWarm, pacedCold series
		next := time.Now()
		for range *n {
			for _, step := range []struct {
				s  *series
				fn func() error
			}{
				{&pacedWarm, post(client, base, "/api/exec", nodeV)},
				{&pacedCold, post(client, base, "/cold/exec", nodeV)},
			} {
				quiesce(warm)()
				quiesce(cold)()
				time.Sleep(time.Until(next))
				next = time.Now().Add(*pace)
				start := time.Now()
				if err := step.fn(); err == nil {
					step.s.d = append(step.s.d, time.Since(start))
				}
			}
		}
		pacedWarm.name = fmt.Sprintf("warm pool, one per %v, each once the last sandbox is destroyed and the pool full", *pace) + poolNote(ps, warm.PoolStats())
		pacedCold.name = fmt.Sprintf("pool off (cold), one per %v, each once the last sandbox is destroyed, %d ready sandboxes on the host", *pace, warm.PoolStats().Ready)

		fmt.Fprintln(tw, "(a) time to interactive, sequential: HTTP create → `node -v` OK\tok\tmedian\tp95\tp99\tmedian vs baseline")
		rows := []series{b.nodeSeq, k.seq, seqEager, seqCold}
		if len(peer.nodeSeq.d) > 0 {
			rows = append(rows, peer.nodeSeq)
		}
		for _, s := range rows {
			row(tw, s, b.nodeSeq, *n)
		}
		for _, s := range []series{b.nodePaced, pacedWarm, pacedCold} {
			row(tw, s, b.nodePaced, *n)
		}
		tw.Flush()

		// What a request costs the machine in CPU, and what that bounds.
		progress("  (a) CPU")
		// The pool first grows to what the series asks, so that the
		// series pays for the sandboxes it uses, not for that growth.
		measure(*n, 1, post(client, base, "/api/exec", nodeV))
		quiesce(warm)()
		ps = warm.PoolStats()
		others := foreignBwraps()
		k.cpu = measureCPU("HTTP create → `node -v` OK, warm pool, its background work included", *n, post(client, base, "/api/exec", nodeV), quiesce(warm))
		k.cpu.name += poolNote(ps, warm.PoolStats())
		if others = max(others, foreignBwraps()); others > 0 {
			k.cpu.name += fmt.Sprintf(" (%d bwrap processes of other programs on the host beside it)", others)
		}
		coldNode := measureCPU("HTTP create → `node -v` OK, pool off", *n, post(client, base, "/cold/exec", nodeV), quiesce(cold))
		coldTrue := measureCPU("HTTP create → `true` OK, pool off", *n, post(client, base, "/cold/exec", `{"command":"true"}`), quiesce(cold))
		cpuReport(tw, b.nodeCPU, b.trueCPU, k.cpu, coldNode, coldTrue)
	}

	// (c) Throughput of POST /api/exec {"command":"true"}.
	if section("c") {
		progress("  (c) %d clients", *conc)
		quiesce(warm)()
		ps := warm.PoolStats()
		k.conc = measure(*reqs, *conc, post(client, base, "/api/exec", `{"command":"true"}`))
		k.conc.name = "kit route group, a sandbox per request, warm pool" + poolNote(ps, warm.PoolStats())
		printf("\n")
		fmt.Fprintf(tw, "(c) POST exec {\"command\":\"true\"}, %d clients\tok\treq/s\tmedian\tp99\tthroughput vs floor\n", *conc)
		rows := []series{b.floor, b.handler}
		if len(peer.trueConc.d) > 0 {
			rows = append(rows, peer.trueConc)
		}
		for _, s := range append(rows, k.conc) {
			fmt.Fprintf(tw, "%s\t%d/%d\t%.0f\t%s\t%s\t%.2fx\n", s.name, len(s.d), *reqs, s.rps(), ms(s.pct(.5)), ms(s.pct(.99)), ratio(s.rps(), b.floor.rps()))
		}
		tw.Flush()
	}

	// (b) Bursts.
	if section("b") {
		progress("  (b) %d bursts of %d", *turns, *n)
		var bursts []series
		quiesce(warm)()
		ps := warm.PoolStats()
		for i := range *turns {
			if i > 0 {
				quiesce(warm)()
			}
			bursts = append(bursts, measure(*n, *n, post(client, base, "/api/exec", nodeV)))
		}
		burst := pooled(bursts)
		burst.name = fmt.Sprintf("burst of %d HTTP create → `node -v`, %d bursts", *n, *turns) + poolNote(ps, warm.PoolStats())
		bareBursts := pooled(b.bursts)
		bareBursts.name = fmt.Sprintf("%d bare bwrap sandboxes running `node -v` at once (baseline), %d bursts", *n, *turns)

		progress("  (b) burst of %d, and a second caller", *big)
		if err := fairness(&k, warm, base, nodeV); err != nil {
			return k, err
		}
		printf("\n")
		fmt.Fprintln(tw, "(b) bursts at once\tok\tmedian\tp95\tp99\tmedian vs baseline")
		total := *n * *turns
		row(tw, bareBursts, bareBursts, total)
		row(tw, burst, bareBursts, total)
		row(tw, b.big, b.big, *big)
		row(tw, k.big, b.big, *big)
		row(tw, k.bigShared, b.big, *big)
		row(tw, k.idle, k.idle, *fairN)
		row(tw, k.during, k.idle, len(k.during.d))
		tw.Flush()
		printf("    each burst of %d, kit / baseline medians: %s\n", *n, burstPairs(bursts, b.bursts))
		printf("    callers told apart by %s\n", k.fairness)
		gs := warm.StartGateStats()
		printf("    start gate: %d slots; %d executions waited for one, %d started beyond them while the CPUs had room\n", gs.Slots, gs.Waited, gs.Extra)
	}

	if section("g") {
		progress("  (g) the start gate's share")
		if err := gateReport(ctx, tw, mux, quiet, client, base, nodeV, warm); err != nil {
			return k, err
		}
	}

	// (d) An execution in an existing session.
	if section("d") {
		progress("  (d) sessions")
		settle(warm)
		if err := sessionReport(ctx, tw, client, base, warmKit, b); err != nil {
			return k, err
		}
	}

	// (e) Idle memory per warm sandbox.
	if section("e") {
		progress("  (e) idle memory")
		settle(warm)
		if err := idleMemoryReport(warm); err != nil {
			return k, err
		}
	}

	if section("f") {
		progress("  (f) WebSocket")
		if err := wsReport(ctx, tw, base, b.ws); err != nil {
			return k, err
		}
	}
	return k, nil
}

// recycleNote says whether the provider's default config recycles.
func recycleNote() string {
	var c local.RecycleConfig
	if c.Off {
		return "off"
	}
	return "on"
}

// eagerSeries is the back-to-back series on a pool that refills at once,
// beside running executions: what the default pool's wait for quiet
// moments saves. Its provider lives for this series only: its ready
// sandboxes are not the other series'.
func eagerSeries(ctx context.Context, mux *http.ServeMux, log *slog.Logger, client *http.Client, base, body string) (series, error) {
	eager, err := local.New(local.Config{Logger: log, WarmPool: local.PoolConfig{Quiet: -1}})
	if err != nil {
		return series{}, err
	}
	kit, err := computemw.New(benchKit(eager, log))
	if err != nil {
		eager.Close(ctx)
		return series{}, err
	}
	defer kit.Close(ctx)
	computehttp.Mount(mux, "/eager", kit)
	quiesce(eager)()
	ps := eager.PoolStats()
	s := measure(*n, 1, post(client, base, "/eager/exec", body))
	s.name = "warm pool refilling beside each request (PoolConfig.Quiet < 0), back to back" + poolNote(ps, eager.PoolStats())
	return s, nil
}

// fairness runs the burst of *big from one caller (127.0.0.2) alone, as
// its baseline runs; then again with, while it runs, a second caller's
// requests one after another (127.0.0.3), beside that second caller's
// requests on the idle kit. The second caller's share of the CPUs slows
// the burst it runs beside, which the target on the burst (against bare
// sandboxes with nothing beside them) would otherwise count.
func fairness(k *kitResults, warm *local.Provider, base, body string) error {
	first, second := newClient("127.0.0.2"), newClient("127.0.0.3")
	defer first.CloseIdleConnections()
	defer second.CloseIdleConnections()
	k.fairness = "client address: the burst dialled from 127.0.0.2, the second caller from 127.0.0.3 (net.Dialer LocalAddr; the kit keys anonymous callers by address)"
	one := post(second, base, "/api/exec", body)
	if err := one(); err != nil {
		return fmt.Errorf("second caller from 127.0.0.3: %w", err)
	}
	quiesce(warm)()
	ps := warm.PoolStats()
	k.idle = measure(*fairN, 1, one)
	k.idle.name = fmt.Sprintf("second caller (127.0.0.3), HTTP create → `node -v`, one after another on the idle kit (baseline)") + poolNote(ps, warm.PoolStats())

	// The burst alone, as its baseline ran: the target compares the two.
	quiesce(warm)()
	ps = warm.PoolStats()
	k.big = measure(*big, *big, post(first, base, "/api/exec", body))
	k.big.name = fmt.Sprintf("burst of %d HTTP create → `node -v` (127.0.0.2)", *big) + poolNote(ps, warm.PoolStats())

	// The burst again, with the second caller's requests beside it.
	quiesce(warm)()
	ps = warm.PoolStats()
	var done atomic.Bool
	during := make(chan series)
	go func() {
		var s series
		for !done.Load() {
			start := time.Now()
			if err := one(); err == nil {
				s.d = append(s.d, time.Since(start))
			}
		}
		during <- s
	}()
	k.bigShared = measure(*big, *big, post(first, base, "/api/exec", body))
	done.Store(true)
	k.during = <-during
	k.bigShared.name = fmt.Sprintf("burst of %d HTTP create → `node -v` (127.0.0.2), beside the second caller", *big) + poolNote(ps, warm.PoolStats())
	k.during.name = fmt.Sprintf("second caller (127.0.0.3), one after another during the burst of %d", *big)
	return nil
}

// pooled is one series of all of bursts' latencies.
func pooled(bursts []series) series {
	var s series
	for _, b := range bursts {
		s.d = append(s.d, b.d...)
	}
	return s
}

// burstPairs lists each burst's medians, kit / baseline, and the median
// of their ratios (the bursts of each were run in different phases:
// this pairs them in order only).
func burstPairs(kit, bare []series) string {
	var pairs []string
	var ratios []float64
	for i := range min(len(kit), len(bare)) {
		a, b := kit[i].pct(.5), bare[i].pct(.5)
		r := ratio(float64(a), float64(b))
		pairs = append(pairs, fmt.Sprintf("%s / %s (%.2fx)", ms(a), ms(b), r))
		ratios = append(ratios, r)
	}
	return fmt.Sprintf("%s; median of the ratios %.2fx", strings.Join(pairs, ", "), median(ratios))
}

// median is the median of xs (0 when empty).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

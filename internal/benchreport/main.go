// Command benchreport measures the local provider and the HTTP layer
// against baselines taken in the same run, and prints ratios. It is run by
// `make bench`. Every figure the README and docs/performance.md quote comes
// from its output; docs/performance.md describes each series in full.
//
// (a) Time to interactive, as ComputeSDK's public benchmark defines it:
// from "create a sandbox" (POST /api/exec) until `node -v` has succeeded
// in it, sequentially, with the warm pool and without (before and after
// the warm pool has grown), beside bare `node -v`; and the CPU time such a
// request costs the whole machine (cpu.go), with the least a sequential
// series can then average.
// (b) Bursts of 100 and 1000 such requests at once (default kit config:
// MaxSandboxes 64, the queue, the default pool), beside 100 bare bwrap
// sandboxes running `node -v` started at once; five bursts of 100 of
// each, taking turns. Then the start gate's share: the same bursts, over
// HTTP and through the Go API, beside a provider without the gate.
// (c) POST /api/exec {"command":"true"} from 8 clients, beside bare bwrap
// sandboxes running `true` 8 at a time (the isolation floor) and a bare
// net/http handler running `true`.
// (d) An execution in an existing session, beside a bare fork/exec of the
// same command.
// (e) Idle memory of a sandbox with its init, and of the warm pool.
// (f) Real time over WebSocket (ws.go).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

var (
	n     = flag.Int("n", 100, "requests per TTI series and per burst")
	big   = flag.Int("big", 1000, "requests in the large burst")
	reqs  = flag.Int("requests", 400, "requests per throughput series")
	conc  = flag.Int("concurrency", 8, "concurrent clients of the throughput series")
	execs = flag.Int("execs", 300, "executions per session series")
	turns = flag.Int("bursts", 5, "bursts of n per series in (b), the series taking turns")
	only  = flag.String("only", "abcdef", "the sections to run, by letter")
	pace  = flag.Duration("pace", 100*time.Millisecond, "the least time between the starts of paced requests")
)

// section reports whether the section named by letter runs.
func section(letter string) bool { return strings.Contains(*only, letter) }

type series struct {
	name string
	d    []time.Duration
	wall time.Duration
}

func (s series) pct(p float64) time.Duration {
	if len(s.d) == 0 {
		return 0
	}
	d := slices.Clone(s.d)
	slices.Sort(d)
	i := int(p*float64(len(d)-1) + 0.5)
	return d[i]
}

func (s series) rps() float64 { return float64(len(s.d)) / s.wall.Seconds() }

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }

// signedMS is ms with its sign, for a difference.
func signedMS(d time.Duration) string { return fmt.Sprintf("%+.2f ms", float64(d)/1e6) }

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	warm, err := local.New(local.Config{Logger: quiet})
	if err != nil {
		return err
	}
	defer warm.Close(ctx)
	cold, err := local.New(local.Config{Logger: quiet, WarmPool: local.PoolConfig{Size: -1}})
	if err != nil {
		return err
	}
	defer cold.Close(ctx)
	// A pool that refills at once, beside running executions: what the
	// default pool's wait for quiet moments saves.
	eager, err := local.New(local.Config{Logger: quiet, WarmPool: local.PoolConfig{Quiet: -1}})
	if err != nil {
		return err
	}
	defer eager.Close(ctx)
	fmt.Printf("local provider: cgroup v%d, %d CPUs; kit and pool with their default config\n\n", warm.CgroupVersion(), numCPU())

	warmKit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{warm}, Logger: quiet})
	if err != nil {
		return err
	}
	defer warmKit.Close(ctx)
	coldKit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{cold}, Logger: quiet})
	if err != nil {
		return err
	}
	defer coldKit.Close(ctx)
	eagerKit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{eager}, Logger: quiet})
	if err != nil {
		return err
	}
	defer eagerKit.Close(ctx)
	mux := http.NewServeMux()
	computehttp.Mount(mux, "/api", warmKit)
	computehttp.Mount(mux, "/cold", coldKit)
	computehttp.Mount(mux, "/eager", eagerKit)
	mux.HandleFunc("POST /bare/exec", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		var out bytes.Buffer
		cmd := exec.Command("true")
		cmd.Stdout = &out
		err := cmd.Run()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"success":%t,"output":%q}`, err == nil, out.String())
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024, MaxConnsPerHost: 0}}
	post := func(path, body string) func() error {
		return func() error {
			resp, err := client.Post(base+path, "application/json", strings.NewReader(body))
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 {
				return fmt.Errorf("status %d: %s", resp.StatusCode, b)
			}
			return nil
		}
	}
	nodeV := `{"command":"node -v"}`
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	row := func(s, base series, want int) {
		fmt.Fprintf(tw, "%s\t%d/%d\t%s\t%s\t%s\t%.2fx\n", s.name, len(s.d), want, ms(s.pct(.5)), ms(s.pct(.95)), ms(s.pct(.99)),
			float64(s.pct(.5))/float64(base.pct(.5)))
	}

	// (a) Time to interactive, sequential.
	if section("a") {
		settle(warm)
		bare := measure(*n, 1, func() error { return exec.Command("node", "-v").Run() })
		bare.name = "bare `node -v`, back to back (baseline of the back-to-back series)"
		// The pool-off series first, while the warm provider's pool holds its
		// initial size; again once the warm series grew the pool, since every
		// bwrap copies the host's mounts, the ready sandboxes' workspaces too.
		seqCold := measure(*n, 1, post("/cold/exec", nodeV))
		seqCold.name = fmt.Sprintf("pool off (cold), back to back, %d ready sandboxes on the host", warm.PoolStats().Ready)
		ps := warm.PoolStats()
		seq := measure(*n, 1, post("/api/exec", nodeV))
		seq.name = "warm pool, back to back" + poolNote(ps, warm.PoolStats())
		// As ComputeSDK's benchmark runs it: each request once the last
		// one's sandbox is destroyed (and the pool, which fills in quiet
		// moments, is full again), one every pace. Bare, warm and cold
		// requests take turns, so that all three meet the machine in the
		// same state (its speed drifts over a run), and a machine that
		// idled before a request is as slow to wake for each.
		settle(warm)
		ps = warm.PoolStats()
		var pacedBare, pacedWarm, pacedCold series
		next := time.Now()
		for range *n {
			for _, step := range []struct {
				s  *series
				p  *local.Provider
				fn func() error
			}{
				{&pacedBare, nil, func() error { return exec.Command("node", "-v").Run() }},
				{&pacedWarm, warm, post("/api/exec", nodeV)},
				{&pacedCold, cold, post("/cold/exec", nodeV)},
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
		pacedBare.name = fmt.Sprintf("bare `node -v`, one per %v (baseline of the paced series)", *pace)
		pacedWarm.name = fmt.Sprintf("warm pool, one per %v, each once the last sandbox is destroyed and the pool full", *pace) + poolNote(ps, warm.PoolStats())
		pacedCold.name = fmt.Sprintf("pool off (cold), one per %v, each once the last sandbox is destroyed, %d ready sandboxes on the host", *pace, warm.PoolStats().Ready)
		settle(eager)
		ps = eager.PoolStats()
		seqEager := measure(*n, 1, post("/eager/exec", nodeV))
		seqEager.name = "warm pool refilling beside each request (PoolConfig.Quiet < 0), back to back" + poolNote(ps, eager.PoolStats())
		eager.Close(ctx) // its ready sandboxes are not the other series'
		settle(warm)
		seqCold2 := measure(*n, 1, post("/cold/exec", nodeV))
		seqCold2.name = fmt.Sprintf("pool off (cold), back to back, %d ready sandboxes on the host", warm.PoolStats().Ready)
		fmt.Fprintln(tw, "(a) time to interactive, sequential: HTTP create → `node -v` OK\tok\tmedian\tp95\tp99\tmedian vs baseline")
		for _, s := range []series{pacedBare, pacedWarm, pacedCold} {
			row(s, pacedBare, *n)
		}
		for _, s := range []series{bare, seq, seqEager, seqCold, seqCold2} {
			row(s, bare, *n)
		}
		tw.Flush()

		// What a request costs the machine in CPU, and what that bounds.
		settle(warm)
		none := func() {}
		bareNode := measureCPU("bare `node -v` (baseline)", *n, func() error { return exec.Command("node", "-v").Run() }, none)
		// The pool first grows to what the series asks, so that the
		// series pays for the sandboxes it uses, not for that growth.
		measure(*n, 1, post("/api/exec", nodeV))
		settle(warm)
		ps = warm.PoolStats()
		warmNode := measureCPU("HTTP create → `node -v` OK, warm pool, its refill included", *n, post("/api/exec", nodeV), quiesce(warm))
		warmNode.name += poolNote(ps, warm.PoolStats())
		coldNode := measureCPU("HTTP create → `node -v` OK, pool off", *n, post("/cold/exec", nodeV), quiesce(cold))
		floor := measureCPU("bare bwrap sandbox running `true` (baseline)", *n, bareBwrap("true"), none)
		coldTrue := measureCPU("HTTP create → `true` OK, pool off", *n, post("/cold/exec", `{"command":"true"}`), quiesce(cold))
		cpuReport(tw, bareNode, floor, warmNode, coldNode, coldTrue)
	}

	// (b) Bursts.
	if section("b") {
		if warm.PoolStats().Target < *n {
			// Run alone, the section first grows the pool, as any
			// earlier burst (or section (a)) would have.
			settle(warm)
			measure(*n, *n, post("/api/exec", nodeV))
		}
		settle(warm)
		ready := warm.PoolStats().Ready
		ps := warm.PoolStats()
		pb := takeTurns(*turns, *n, post("/api/exec", nodeV), bareBwrap("node", "-v"), false, func() { settle(warm) })
		burst, bareBurst := pb.a, pb.b
		bareBurst.name = fmt.Sprintf("%d bare bwrap sandboxes running `node -v` at once (baseline), %d bursts, %d ready sandboxes on the host", *n, *turns, ready)
		burst.name = fmt.Sprintf("burst of %d HTTP create → `node -v`, %d bursts", *n, *turns) + poolNote(ps, warm.PoolStats())
		settle(warm)
		ps = warm.PoolStats()
		bigBurst := measure(*big, *big, post("/api/exec", nodeV))
		bigBurst.name = fmt.Sprintf("burst of %d HTTP create → `node -v`", *big) + poolNote(ps, warm.PoolStats())
		fmt.Println()
		fmt.Fprintln(tw, "(b) bursts at once\tok\tmedian\tp95\tp99\tmedian vs baseline")
		total := *n * *turns
		row(bareBurst, bareBurst, total)
		row(burst, bareBurst, total)
		row(bigBurst, bareBurst, *big)
		tw.Flush()
		fmt.Println(pb.summary(*n, "kit / baseline"))
		perReq := func(cpu time.Duration) time.Duration { return cpu / time.Duration(total) }
		fmt.Printf("    a tenth done (p10): kit %s, baseline %s; the machine's CPU per request while the bursts ran: kit %s, baseline %s (%.2fx)\n",
			ms(burst.pct(.1)), ms(bareBurst.pct(.1)), ms(perReq(pb.cpuA)), ms(perReq(pb.cpuB)), float64(pb.cpuA)/float64(pb.cpuB))
		gs := warm.StartGateStats()
		fmt.Printf("    start gate: %d slots; %d executions waited for one, %d started beyond them while the CPUs had room\n", gs.Slots, gs.Waited, gs.Extra)
		if err := gateReport(ctx, tw, mux, quiet, post, nodeV, warm); err != nil {
			return err
		}
	}

	// (c) Throughput of POST /api/exec {"command":"true"}.
	if section("c") {
		settle(warm)
		floor := measure(*reqs, *conc, bareBwrap("true"))
		floor.name = fmt.Sprintf("bare bwrap sandboxes running `true`, %d at a time (floor), %d ready sandboxes on the host", *conc, warm.PoolStats().Ready)
		bh := measure(*reqs, *conc, post("/bare/exec", `{"command":"true"}`))
		bh.name = "bare net/http handler running `true` (no sandbox)"
		settle(warm)
		ps := warm.PoolStats()
		kh := measure(*reqs, *conc, post("/api/exec", `{"command":"true"}`))
		kh.name = "kit route group, a sandbox per request, warm pool" + poolNote(ps, warm.PoolStats())
		fmt.Println()
		fmt.Fprintf(tw, "(c) POST exec {\"command\":\"true\"}, %d clients\tok\treq/s\tmedian\tp99\tthroughput vs floor\n", *conc)
		for _, s := range []series{floor, bh, kh} {
			fmt.Fprintf(tw, "%s\t%d/%d\t%.0f\t%s\t%s\t%.2fx\n", s.name, len(s.d), *reqs, s.rps(), ms(s.pct(.5)), ms(s.pct(.99)), s.rps()/floor.rps())
		}
		tw.Flush()
	}

	// (d) An execution in an existing session.
	if section("d") {
		settle(warm)
		if err := sessionReport(ctx, tw, client, base, warmKit); err != nil {
			return err
		}
	}

	// (e) Idle memory per warm sandbox.
	if section("e") {
		settle(warm)
		if err := idleMemoryReport(warm); err != nil {
			return err
		}
	}

	// A burst that did not all succeed is a figure like the others (its
	// "ok" column), not a reason to stop measuring.
	if section("f") {
		if err := wsReport(ctx, tw, base); err != nil {
			return err
		}
	}

	return nil
}

// gateReport measures the start gate's share of the burst: the kit's
// bursts of (b) beside the same bursts on a provider without the gate,
// taking turns. That provider's ready sandboxes are mounts on the host,
// which every bwrap copies: it exists only here, so that the other
// sections meet the host as the kit's users would.
func gateReport(ctx context.Context, tw *tabwriter.Writer, mux *http.ServeMux, log *slog.Logger, post func(path, body string) func() error, body string, warm *local.Provider) error {
	if warm.StartGateStats().Slots == 0 {
		fmt.Println("    no start gate (the kernel reports no CPU pressure): no comparison")
		return nil
	}
	off, err := local.New(local.Config{Logger: log, StartGate: local.StartGateConfig{Slots: -1}})
	if err != nil {
		return err
	}
	defer off.Close(ctx)
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{off}, Logger: log})
	if err != nil {
		return err
	}
	defer kit.Close(ctx)
	computehttp.Mount(mux, "/ungated", kit)
	settle(off)
	measure(*n, *n, post("/ungated/exec", body)) // grows its pool as (b) grew the kit's
	// Through the Go API, nothing caps a burst of the provider's
	// executions: MaxSandboxes is the kit's.
	api := func(p *local.Provider) func() error {
		return func() error {
			sb, err := p.Create(ctx, computemw.CreateOptions{})
			if err != nil {
				return err
			}
			defer func() { go sb.Destroy(ctx) }()
			res, err := sb.Exec(ctx, "node -v", computemw.ExecOptions{})
			if err == nil && res.ExitCode != 0 {
				err = fmt.Errorf("node -v: exit %d", res.ExitCode)
			}
			return err
		}
	}
	fmt.Println()
	fmt.Fprintln(tw, "(b) the start gate's share, both pools ready\tok\tmedian\tp95\tp99\tmedian vs baseline")
	for _, pair := range []struct {
		name    string
		on, off func() error
	}{
		{fmt.Sprintf("burst of %d HTTP create → `node -v`", *n), post("/api/exec", body), post("/ungated/exec", body)},
		{fmt.Sprintf("burst of %d Go API create → `node -v` (no MaxSandboxes)", *n), api(warm), api(off)},
	} {
		pb := takeTurns(*turns, *n, pair.on, pair.off, true, func() { settle(warm); settle(off) })
		gated, ungated := pb.a, pb.b
		ungated.name = fmt.Sprintf("%s, start gate off (baseline), %d bursts", pair.name, *turns)
		gated.name = fmt.Sprintf("%s, start gate on (default), %d bursts", pair.name, *turns)
		for _, s := range []series{ungated, gated} {
			fmt.Fprintf(tw, "%s\t%d/%d\t%s\t%s\t%s\t%.2fx\n", s.name, len(s.d), *n**turns, ms(s.pct(.5)), ms(s.pct(.95)), ms(s.pct(.99)),
				float64(s.pct(.5))/float64(ungated.pct(.5)))
		}
		tw.Flush()
		fmt.Println(pb.summary(*n, "gate on / off"))
	}
	return nil
}

// poolNote says how many of a series' creates the pool served, from its
// stats before and after, and the target it started with.
func poolNote(before, after computemw.PoolStats) string {
	return fmt.Sprintf(" (pool: %d of %d ready at start, %d hits, %d misses)", before.Ready, before.Target,
		after.Hits-before.Hits, after.Misses-before.Misses)
}

// settle waits (at most ten seconds) until the warm pool is full again,
// so that one series does not pay for the refill of the one before.
func settle(p *local.Provider) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if s := p.PoolStats(); s.Ready >= s.Target {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// bareBwrap runs argv in a minimal bubblewrap sandbox: new namespaces,
// the host's /usr read-only, its own /proc and /dev.
func bareBwrap(argv ...string) func() error {
	args := []string{"--unshare-all", "--die-with-parent", "--new-session",
		"--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc",
		"--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"}
	for _, d := range []string{"/bin", "/lib", "/lib64", "/sbin"} {
		if t, err := os.Readlink(d); err == nil {
			args = append(args, "--symlink", t, d)
		}
	}
	args = append(append(args, "--"), argv...)
	return func() error { return exec.Command("bwrap", args...).Run() }
}

// sessionReport measures an execution in an existing session, through the
// Go API and over HTTP, beside a bare fork/exec of `true`.
func sessionReport(ctx context.Context, tw *tabwriter.Writer, client *http.Client, base string, kit *computemw.Kit) error {
	sb, err := kit.Create(computemw.WithPrincipal(ctx, computemw.Principal{ID: "bench"}), "", computemw.CreateOptions{})
	if err != nil {
		return err
	}
	defer sb.Destroy(ctx)
	resp, err := client.Post(base+"/api/sandboxes", "application/json", strings.NewReader(`{}`))
	if err != nil {
		return err
	}
	var info struct {
		SandboxID string `json:"sandboxId"`
	}
	err = json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if err != nil || info.SandboxID == "" {
		return fmt.Errorf("create session: %v", err)
	}
	defer func() {
		req, _ := http.NewRequest(http.MethodDelete, base+"/api/sandboxes/"+info.SandboxID, nil)
		if r, err := client.Do(req); err == nil {
			r.Body.Close()
		}
	}()

	steps := []struct {
		s  series
		fn func() error
	}{
		{series{name: "bare fork/exec of `true` (baseline)"}, func() error { return exec.Command("true").Run() }},
		// `true` is a built-in of the shell: a session runs it as
		// /bin/sh -c true, as it runs every command with one.
		{series{name: "bare fork/exec of `/bin/sh -c true` (how a sandbox runs it)"}, func() error { return exec.Command("/bin/sh", "-c", "true").Run() }},
		{series{name: "Exec(\"true\") in a session, Go API"}, func() error {
			res, err := sb.Exec(ctx, "true", computemw.ExecOptions{})
			if err == nil && res.ExitCode != 0 {
				err = fmt.Errorf("exit %d", res.ExitCode)
			}
			return err
		}},
		{series{name: "POST /sandboxes/{id}/exec `true`, HTTP"}, func() error {
			r, err := client.Post(base+"/api/sandboxes/"+info.SandboxID+"/exec", "application/json", strings.NewReader(`{"command":"true"}`))
			if err != nil {
				return err
			}
			defer r.Body.Close()
			io.Copy(io.Discard, r.Body)
			if r.StatusCode != 200 {
				return fmt.Errorf("status %d", r.StatusCode)
			}
			return nil
		}},
	}
	// The series take turns, so that each meets the machine in the same
	// state: its speed drifts over a run by more than the difference
	// measured here.
	var first error
	for range *execs {
		for i := range steps {
			start := time.Now()
			if err := steps[i].fn(); err != nil {
				if first == nil {
					first = err
				}
				continue
			}
			steps[i].s.d = append(steps[i].s.d, time.Since(start))
		}
	}
	if first != nil {
		fmt.Fprintln(os.Stderr, "benchreport: error:", first)
	}

	bare := steps[0].s
	fmt.Println()
	fmt.Fprintln(tw, "(d) exec in an existing session, the series taking turns\tok\tmedian\tp95\tp99\tmedian over baseline")
	for _, st := range steps {
		s := st.s
		fmt.Fprintf(tw, "%s\t%d/%d\t%s\t%s\t%s\t%s\n", s.name, len(s.d), *execs, ms(s.pct(.5)), ms(s.pct(.95)), ms(s.pct(.99)),
			signedMS(s.pct(.5)-bare.pct(.5)))
	}
	tw.Flush()
	return nil
}

// idleMemoryReport prints the idle memory of a sandbox whose init runs
// (the warm pool's, and a session's after its first execution): the
// proportional set size (shared pages divided among their users) of
// every process this one started — each sandbox's bwrap monitor and init
// — divided by the number of sandboxes, and what their cgroups count.
func idleMemoryReport(p *local.Provider) error {
	ctx := context.Background()
	const n = 8
	// The pool's ready sandboxes alone first: all the provider runs.
	quiesce(p)()
	readyPSS, ready := descendantsPSS(), p.PoolStats().Ready
	var sbs []computemw.Sandbox
	defer func() {
		for _, sb := range sbs {
			sb.Destroy(ctx)
		}
	}()
	for range n {
		sb, err := p.Create(ctx, computemw.CreateOptions{Resources: computemw.Resources{MemoryMB: 256}})
		if err != nil {
			return err
		}
		sbs = append(sbs, sb)
		for range 2 {
			if _, err := sb.Exec(ctx, "true", computemw.ExecOptions{}); err != nil {
				return err
			}
		}
	}
	// The sessions took ready sandboxes; the pool fills again.
	quiesce(p)()
	pss := descendantsPSS()
	st := p.PoolStats()
	fmt.Println()
	if ready > 0 {
		perReady := float64(readyPSS) / float64(ready)
		fmt.Printf("(e) idle memory per ready sandbox (bwrap monitor, its PID 1 and held shell, empty workspace): %.2f MiB PSS, over %d ready in the pool\n",
			perReady/(1<<20), ready)
		fmt.Printf("    per idle session's sandbox with its init (bwrap monitor, init, empty workspace): %.2f MiB PSS, over %d sessions beside %d ready\n",
			(float64(pss)-perReady*float64(st.Ready))/n/(1<<20), n, st.Ready)
		fmt.Printf("    the pool's ready sandboxes' cgroups count %.2f MiB each (%.2f MiB together)\n",
			float64(st.IdleBytes)/float64(max(st.Ready, 1))/(1<<20), float64(st.IdleBytes)/(1<<20))
		return nil
	}
	fmt.Printf("(e) idle memory per session's sandbox with its init (bwrap monitor, init, empty workspace): %.2f MiB PSS, over %d sessions\n",
		float64(pss)/n/(1<<20), n)
	return nil
}

// descendantsPSS is the proportional set size of every process below
// this one, in bytes.
func descendantsPSS() int64 {
	var pss int64
	for _, pid := range descendants(os.Getpid()) {
		pss += smapsPSS(pid)
	}
	return pss
}

// descendants lists the processes below pid.
func descendants(pid int) []int {
	children := map[int][]int{}
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range dirs {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := string(b)
		end := strings.LastIndexByte(s, ')')
		if end < 0 {
			continue
		}
		fields := strings.Fields(s[end+1:])
		if len(fields) < 2 {
			continue
		}
		me, _ := strconv.Atoi(strings.Fields(s)[0])
		ppid, _ := strconv.Atoi(fields[1])
		children[ppid] = append(children[ppid], me)
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// smapsPSS is a process's proportional set size in bytes.
func smapsPSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Pss:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// measure runs fn total times with the given concurrency and records the
// latency of each successful call.
func measure(total, concurrency int, fn func() error) series {
	return measureD(total, concurrency, func() (time.Duration, error) {
		t := time.Now()
		err := fn()
		return time.Since(t), err
	})
}

// measureD is measure for functions that time themselves.
func measureD(total, concurrency int, fn func() (time.Duration, error)) series {
	var (
		mu    sync.Mutex
		s     series
		next  atomic.Int64
		wg    sync.WaitGroup
		first error
	)
	start := time.Now()
	for range concurrency {
		wg.Go(func() {
			for next.Add(1) <= int64(total) {
				d, err := fn()
				mu.Lock()
				if err == nil {
					s.d = append(s.d, d)
				} else if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	s.wall = time.Since(start)
	if first != nil {
		fmt.Fprintln(os.Stderr, "benchreport: error:", first)
	}
	return s
}

func numCPU() int {
	out, err := exec.Command("nproc").Output()
	if err != nil {
		return 0
	}
	var c int
	fmt.Sscan(string(out), &c)
	return c
}

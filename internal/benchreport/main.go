// Command benchreport measures the local provider and the HTTP layer
// against baselines taken in the same run, and prints ratios. It is run by
// `make bench`. Every figure the README and docs/performance.md quote comes
// from its output; docs/performance.md describes each series in full.
//
// It runs in three phases, so that each baseline meets a clean host (no
// kit server, no ready sandbox: ready sandboxes are mounts every bwrap
// copies, and a pool's refill contends with every start):
//
//  1. the baselines (baseline.go), before any provider exists;
//  2. the peer, go-judge (gojudge.go), when its binary is given, started
//     for its phase only and stopped after;
//  3. the kit (kit.go): its providers made only then, closed after;
//  4. the baselines of the targets again, and go-judge again: each
//     target's baseline is both measurements' samples, which bracket
//     the kit's phase in time (the machine's speed drifts, and other
//     programs on a shared host come and go).
//
// It prints the performance targets first (targets.go), each as a ratio
// of medians against a baseline of the same run, then the sections:
//
// (a) Time to interactive, as ComputeSDK's public benchmark defines it:
// from "create a sandbox" (POST /api/exec) until `node -v` has succeeded
// in it, sequentially, back to back and paced, with the warm pool and
// without, beside bare `node -v` and go-judge; and the CPU time such a
// request costs the whole machine (cpu.go), its background work included.
// (b) Bursts of 100 and 1000 such requests at once, beside as many bare
// bwrap sandboxes running `node -v` started at once; then the burst of
// 1000 again with a second caller's requests during it, beside the same
// on an idle kit.
// (c) POST /api/exec {"command":"true"} from 8 clients, beside bare bwrap
// sandboxes running `true` 8 at a time (the isolation floor), a bare
// net/http handler running `true`, and go-judge's /run of `true`.
// (d) An execution in an existing session, beside a bare fork/exec of the
// same command.
// (e) Idle memory of a sandbox with its init, and of the warm pool.
// (f) Real time over WebSocket (ws.go).
// (g) The start gate's share of a burst: the kit beside a provider
// without the gate (-only abcdefg; not run by default, for its time).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
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
	n       = flag.Int("n", 100, "requests per TTI series and per burst")
	big     = flag.Int("big", 1000, "requests in the large burst")
	reqs    = flag.Int("requests", 400, "requests per throughput series")
	conc    = flag.Int("concurrency", 8, "concurrent clients of the throughput series")
	execs   = flag.Int("execs", 300, "executions per session series")
	turns   = flag.Int("bursts", 5, "bursts of n per series in (b) and (g)")
	fairN   = flag.Int("fair", 20, "the second caller's requests on the idle kit in (b)")
	only    = flag.String("only", "abcdef", "the sections to run, by letter (g: the start gate's share, not run by default)")
	pace    = flag.Duration("pace", 100*time.Millisecond, "the least time between the starts of paced requests")
	gojudge = flag.String("gojudge", os.Getenv("GOJUDGE"), "the go-judge binary to compare with (default $GOJUDGE); empty skips it")
	cpuProf = flag.String("cpuprofile", "", "write a CPU profile of this process during the kit's phase to this file")
)

// section reports whether the section named by letter runs.
func section(letter string) bool { return strings.Contains(*only, letter) }

// report holds the sections' output, printed after the targets.
var report bytes.Buffer

// printf writes to the report.
func printf(format string, a ...any) { fmt.Fprintf(&report, format, a...) }

// progress tells the terminal which phase runs (on stderr: the report is
// printed at the end).
func progress(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "benchreport: %s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
}

// newTable is a tab writer into the report.
func newTable() *tabwriter.Writer { return tabwriter.NewWriter(&report, 2, 4, 2, ' ', 0) }

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

func (s series) rps() float64 {
	if s.wall <= 0 {
		return 0
	}
	return float64(len(s.d)) / s.wall.Seconds()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }

// signedMS is ms with its sign, for a difference.
func signedMS(d time.Duration) string { return fmt.Sprintf("%+.2f ms", float64(d)/1e6) }

// ratio is a/b, or 0 when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// row prints a series' latencies beside its baseline's median.
func row(tw *tabwriter.Writer, s, base series, want int) {
	fmt.Fprintf(tw, "%s\t%d/%d\t%s\t%s\t%s\t%.2fx\n", s.name, len(s.d), want, ms(s.pct(.5)), ms(s.pct(.95)), ms(s.pct(.99)),
		ratio(float64(s.pct(.5)), float64(base.pct(.5))))
}

func main() {
	flag.Parse()
	if err := run(); err != nil {
		os.Stdout.Write(report.Bytes())
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	start := time.Now()
	progress("phase 1: baselines, no provider alive")
	b, err := measureBaselines(ctx)
	if err != nil {
		return err
	}
	progress("phase 2: go-judge")
	peer, err := runPeer(ctx, *gojudge)
	if err != nil {
		return err
	}
	progress("phase 3: the kit")
	stopProfile, err := startProfile(*cpuProf)
	if err != nil {
		return err
	}
	k, err := runKit(ctx, b, peer)
	stopProfile()
	if err != nil {
		return err
	}
	progress("phase 4: the targets' baselines again, the kit closed")
	b2 := measureAgain()
	progress("phase 5: go-judge again")
	peer2, err := runPeer(ctx, *gojudge)
	if err != nil {
		return err
	}
	progress("done in %v", time.Since(start).Round(time.Second))
	fmt.Printf("local provider: cgroup v%d, %d CPUs; %s\n", k.cgroup, numCPU(), k.config)
	fmt.Printf("phases: (1) baselines with no provider alive%s; (2) %s; (3) the kit; (4) the targets' baselines again, the kit closed%s; (5) go-judge again. The sections after the targets compare with the baselines of (1) and (2)\n",
		b.hostNote, peer.note, b2.hostNote)
	fmt.Println()
	printTargets(targets(b, b2, peer, peer2, k))
	fmt.Println()
	os.Stdout.Write(report.Bytes())
	return nil
}

// startProfile starts a CPU profile written to file, when file is not
// empty, and returns what stops it.
func startProfile(file string) (stop func(), err error) {
	if file == "" {
		return func() {}, nil
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// gateReport measures the start gate's share of the burst: the kit's
// bursts of (b) beside the same bursts on a provider without the gate,
// taking turns (both kits: neither is a clean-host baseline). That
// provider's ready sandboxes are mounts on the host, which every bwrap
// copies: it exists only here, so that the other sections meet the host
// as the kit's users would.
func gateReport(ctx context.Context, tw *tabwriter.Writer, mux *http.ServeMux, log *slog.Logger, client *http.Client, base, body string, warm *local.Provider) error {
	post := func(path, body string) func() error { return post(client, base, path, body) }
	if warm.StartGateStats().Slots == 0 {
		printf("    no start gate (the kernel reports no CPU pressure): no comparison\n")
		return nil
	}
	off, err := local.New(local.Config{Logger: log, StartGate: local.StartGateConfig{Slots: -1}})
	if err != nil {
		return err
	}
	kit, err := computemw.New(benchKit(off, log))
	if err != nil {
		off.Close(ctx)
		return err
	}
	defer kit.Close(ctx) // closes off
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
	printf("\n")
	fmt.Fprintln(tw, "(g) the start gate's share, both pools ready\tok\tmedian\tp95\tp99\tmedian vs baseline")
	for _, pair := range []struct {
		name    string
		on, off func() error
	}{
		{fmt.Sprintf("burst of %d HTTP create → `node -v`", *n), post("/api/exec", body), post("/ungated/exec", body)},
		{fmt.Sprintf("burst of %d Go API create → `node -v` (no MaxSandboxes)", *n), api(warm), api(off)},
	} {
		pb := takeTurns(*turns, *n, pair.on, pair.off, true, func() { quiesce(warm)(); quiesce(off)() })
		gated, ungated := pb.a, pb.b
		ungated.name = fmt.Sprintf("%s, start gate off (baseline), %d bursts", pair.name, *turns)
		gated.name = fmt.Sprintf("%s, start gate on (default), %d bursts", pair.name, *turns)
		for _, s := range []series{ungated, gated} {
			fmt.Fprintf(tw, "%s\t%d/%d\t%s\t%s\t%s\t%.2fx\n", s.name, len(s.d), *n**turns, ms(s.pct(.5)), ms(s.pct(.95)), ms(s.pct(.99)),
				float64(s.pct(.5))/float64(ungated.pct(.5)))
		}
		tw.Flush()
		printf("%s\n", pb.summary(*n, "gate on / off"))
	}
	return nil
}

// poolNote says how many of a series' creates the pool served, from its
// stats before and after, and the target it started with.
func poolNote(before, after computemw.PoolStats) string {
	return fmt.Sprintf(" (pool: %d of %d ready at start, %d hits, %d misses, %d recycled, %d resets failed)", before.Ready, before.Target,
		after.Hits-before.Hits, after.Misses-before.Misses, after.Recycled-before.Recycled, after.ResetFailed-before.ResetFailed)
}

// settle waits (at most ten seconds) until the warm pool is full again,
// so that one series does not pay for the refill of the one before.
func settle(p *local.Provider) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if poolFull(p.PoolStats()) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// maxIdleBytes is local.PoolConfig.MaxIdleMB's default, which every
// provider here keeps.
const maxIdleBytes = 256 << 20

// poolFull reports whether a pool refills no further: it holds its
// target, or its ready sandboxes hold the memory it may keep idle.
func poolFull(s computemw.PoolStats) bool {
	return s.Ready >= s.Target || s.IdleBytes >= maxIdleBytes
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
// Go API and over HTTP, beside a bare fork/exec of `true` (phase 1).
func sessionReport(ctx context.Context, tw *tabwriter.Writer, client *http.Client, base string, kit *computemw.Kit, b baselines) error {
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
	// The two series take turns, so that each meets the machine in the
	// same state: its speed drifts over a run.
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

	bare := b.fork
	printf("\n")
	fmt.Fprintln(tw, "(d) exec in an existing session, the kit's two series taking turns\tok\tmedian\tp95\tp99\tmedian over baseline")
	for _, s := range []series{b.fork, b.forkSh, steps[0].s, steps[1].s} {
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
	settle(p)
	pss := descendantsPSS()
	st := p.PoolStats()
	printf("\n")
	if ready > 0 {
		perReady := float64(readyPSS) / float64(ready)
		printf("(e) idle memory per ready sandbox (bwrap monitor, its init, empty workspace): %.2f MiB PSS, over %d ready in the pool\n",
			perReady/(1<<20), ready)
		printf("    per idle session's sandbox with its init (bwrap monitor, init, empty workspace): %.2f MiB PSS, over %d sessions beside %d ready\n",
			(float64(pss)-perReady*float64(st.Ready))/n/(1<<20), n, st.Ready)
		printf("    the pool's ready sandboxes' cgroups count %.2f MiB each (%.2f MiB together)\n",
			float64(st.IdleBytes)/float64(max(st.Ready, 1))/(1<<20), float64(st.IdleBytes)/(1<<20))
		return nil
	}
	printf("(e) idle memory per session's sandbox with its init (bwrap monitor, init, empty workspace): %.2f MiB PSS, over %d sessions\n",
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

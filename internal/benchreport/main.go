// Command benchreport measures the local provider and the HTTP layer
// against baselines taken in the same run, and prints ratios. It is run by
// `make bench`.
//
// (a) Time to interactive, as ComputeSDK's public benchmark defines it:
// from "create a sandbox" until `node -v` has succeeded in it; 100
// sequential and a burst of 100 at once, beside bare `node -v`.
// (b) HTTP POST /api/exec {"command":"true"} through the kit's net/http
// route group, beside a bare net/http handler that runs `true` directly.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/computemw/kit/adapters/nethttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

var (
	n    = flag.Int("n", 100, "sandboxes per TTI series")
	reqs = flag.Int("requests", 400, "HTTP requests per series")
	conc = flag.Int("concurrency", 8, "concurrent HTTP clients")
)

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

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/1e6) }

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	prov, err := local.New(local.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer prov.Close(ctx)
	fmt.Printf("local provider: cgroup v%d, %d CPUs\n\n", prov.CgroupVersion(), numCPU())

	// (a) Time to interactive.
	bare := measure(*n, 1, func() error { return exec.Command("node", "-v").Run() })
	// TTI stops the clock when `node -v` has succeeded; destroying the
	// sandbox happens after, outside the measurement, as in ComputeSDK's
	// benchmark.
	tti := func() (time.Duration, error) {
		start := time.Now()
		sb, err := prov.Create(ctx, computemw.CreateOptions{})
		if err != nil {
			return 0, err
		}
		defer sb.Destroy(ctx)
		res, err := sb.Exec(ctx, "node -v", computemw.ExecOptions{})
		d := time.Since(start)
		if err != nil {
			return 0, err
		}
		if res.ExitCode != 0 || len(res.Stdout) < 2 {
			return 0, fmt.Errorf("node -v: exit %d %q", res.ExitCode, res.Stderr)
		}
		return d, nil
	}
	seq := measureD(*n, 1, tti)
	seq.name = "sandbox TTI, sequential"
	burst := measureD(*n, *n, tti)
	burst.name = fmt.Sprintf("sandbox TTI, burst of %d", *n)
	bare.name = "bare `node -v` (baseline)"
	bareBurst := measure(*n, *n, func() error { return exec.Command("node", "-v").Run() })
	bareBurst.name = fmt.Sprintf("bare `node -v`, burst of %d", *n)

	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "(a) time to interactive\tok\tmedian\tp95\tp99\tmedian vs baseline")
	for _, s := range []series{bare, seq, bareBurst, burst} {
		base := bare
		if s.name == burst.name {
			base = bareBurst
		}
		fmt.Fprintf(tw, "%s\t%d/%d\t%s\t%s\t%s\t%.2fx\n", s.name, len(s.d), *n, ms(s.pct(.5)), ms(s.pct(.95)), ms(s.pct(.99)),
			float64(s.pct(.5))/float64(base.pct(.5)))
	}
	tw.Flush()
	if len(burst.d) != *n {
		return fmt.Errorf("burst: only %d of %d sandboxes succeeded", len(burst.d), *n)
	}

	// (b) HTTP exec through the kit against a bare handler.
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{prov}, MaxSandboxes: 256, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer kit.Close(ctx)
	mux := http.NewServeMux()
	computehttp.Mount(mux, "/api", kit)
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
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conc}}
	post := func(path string) func() error {
		return func() error {
			resp, err := client.Post(base+path, "application/json", bytes.NewBufferString(`{"command":"true"}`))
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			io.Copy(io.Discard, resp.Body)
			if resp.StatusCode != 200 {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil
		}
	}
	bh := measure(*reqs, *conc, post("/bare/exec"))
	kh := measure(*reqs, *conc, post("/api/exec"))
	fmt.Println()
	fmt.Fprintf(tw, "(b) POST exec {\"command\":\"true\"}, %d clients\tok\treq/s\tmedian\tp99\tthroughput vs bare\tmedian vs bare\n", *conc)
	for _, s := range []struct {
		name string
		s    series
	}{{"bare net/http handler running `true`", bh}, {"kit route group (sandbox per request)", kh}} {
		rps := float64(len(s.s.d)) / s.s.wall.Seconds()
		brps := float64(len(bh.d)) / bh.wall.Seconds()
		fmt.Fprintf(tw, "%s\t%d/%d\t%.0f\t%s\t%s\t%.2fx\t%.2fx\n", s.name, len(s.s.d), *reqs, rps, ms(s.s.pct(.5)), ms(s.s.pct(.99)),
			rps/brps, float64(s.s.pct(.5))/float64(bh.pct(.5)))
	}
	tw.Flush()
	return wsReport(ctx, tw, base)
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

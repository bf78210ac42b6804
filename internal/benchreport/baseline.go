package main

// Phase 1: every baseline, on a clean host. No provider exists yet, and
// no kit server: only this process's own bare runs.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// baselines are the series phase 1 measures.
type baselines struct {
	nodeSeq   series    // bare `node -v`, back to back
	nodePaced series    // bare `node -v`, one per *pace
	nodeCPU   cpuSeries // bare `node -v`, the machine's CPU
	trueCPU   cpuSeries // bare bwrap `true`, the machine's CPU
	floor     series    // bare bwrap `true`, *conc at a time
	handler   series    // bare net/http handler running `true`
	bursts    []series  // *turns bursts of *n bare bwrap `node -v`
	big       series    // *big bare bwrap `node -v` at once
	fork      series    // fork/exec of `true`
	forkSh    series    // fork/exec of `/bin/sh -c true`
	ws        wsBaselines
	hostNote  string
	others    int // the most bwrap processes of other programs seen between baselines
}

// checkHost records the bwrap processes of other programs running now:
// those still there after a few seconds, since the sandboxes of the
// series just measured end after it (a bwrap whose parent ended first is
// no descendant of this process any more).
func (b *baselines) checkHost() {
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := foreignBwraps()
		if n == 0 || time.Now().After(deadline) {
			b.others = max(b.others, n)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// measureBaselines runs phase 1.
func measureBaselines(ctx context.Context) (baselines, error) {
	var b baselines
	b.hostNote = waitHostClean()
	node := func() error { return exec.Command("node", "-v").Run() }
	for range 3 { // node's files into the page cache
		node()
	}
	if section("a") {
		progress("  bare node -v, back to back, paced, CPU")
		b.nodeSeq = measure(*n, 1, node)
		b.checkHost()
		b.nodeSeq.name = "bare `node -v`, back to back (baseline)"
		b.nodeCPU = measureCPU("bare `node -v` (baseline)", *n, node, func() {})
		b.checkHost()
		b.trueCPU = measureCPU("bare bwrap sandbox running `true` (baseline)", *n, bareBwrap("true"), func() {})
		b.checkHost()
		next := time.Now()
		for range *n {
			time.Sleep(time.Until(next))
			next = time.Now().Add(*pace)
			start := time.Now()
			if err := node(); err == nil {
				b.nodePaced.d = append(b.nodePaced.d, time.Since(start))
			}
		}
		b.nodePaced.name = fmt.Sprintf("bare `node -v`, one per %v (baseline)", *pace)
		b.checkHost()
	}
	if section("c") {
		progress("  bare bwrap true, %d at a time; bare net/http handler", *conc)
		b.floor = measure(*reqs, *conc, bareBwrap("true"))
		b.floor.name = fmt.Sprintf("bare bwrap sandboxes running `true`, %d at a time (floor)", *conc)
		b.checkHost()
		h, err := bareHandler(*reqs, *conc)
		if err != nil {
			return b, err
		}
		b.handler = h
		b.handler.name = "bare net/http handler running `true` (no sandbox)"
	}
	if section("b") {
		progress("  bare bwrap node -v, %d bursts of %d, one of %d", *turns, *n, *big)
		for range *turns {
			s := measure(*n, *n, bareBwrap("node", "-v"))
			b.bursts = append(b.bursts, s)
			b.checkHost()
		}
		b.big = measure(*big, *big, bareBwrap("node", "-v"))
		b.big.name = fmt.Sprintf("%d bare bwrap sandboxes running `node -v` at once (baseline)", *big)
		b.checkHost()
	}
	if section("d") {
		progress("  fork/exec")
		for range *execs {
			for _, st := range []struct {
				s    *series
				argv []string
			}{{&b.fork, []string{"true"}}, {&b.forkSh, []string{"/bin/sh", "-c", "true"}}} {
				start := time.Now()
				if err := exec.Command(st.argv[0], st.argv[1:]...).Run(); err == nil {
					st.s.d = append(st.s.d, time.Since(start))
				}
			}
		}
		b.fork.name = "bare fork/exec of `true` (baseline)"
		// `true` is a built-in of the shell: a session runs it as
		// /bin/sh -c true, as it runs every command with one.
		b.forkSh.name = "bare fork/exec of `/bin/sh -c true` (how a sandbox runs it)"
	}
	if section("f") {
		progress("  host pipes")
		ws, err := measureWSBaselines(ctx)
		if err != nil {
			return b, err
		}
		b.ws = ws
	}
	if b.others > 0 {
		b.hostNote += fmt.Sprintf(" (between baselines, up to %d bwrap processes of other programs ran on the host)", b.others)
	}
	return b, nil
}

// measureAgain measures, once the kit is closed and the host clean
// again, the baselines the targets are ratios to, so that each target's
// baseline brackets the kit's phase: the machine's speed drifts, and
// other programs on a shared host come and go.
func measureAgain() baselines {
	var b baselines
	b.hostNote = waitHostClean()
	node := func() error { return exec.Command("node", "-v").Run() }
	if section("a") {
		b.nodeSeq = measure(*n, 1, node)
		b.checkHost()
		b.nodeCPU = measureCPU("bare `node -v` (baseline)", *n, node, func() {})
		b.checkHost()
	}
	if section("c") {
		b.floor = measure(*reqs, *conc, bareBwrap("true"))
		b.checkHost()
	}
	if section("b") {
		b.big = measure(*big, *big, bareBwrap("node", "-v"))
	}
	b.checkHost()
	if b.others > 0 {
		b.hostNote += fmt.Sprintf(" (after them, %d bwrap processes of other programs ran on the host)", b.others)
	}
	return b
}

// pool is the samples of a and b as one series; its wall time the sum
// of theirs, so that its rate is both's.
func pool(a, b series) series {
	return series{name: a.name, d: append(slices.Clone(a.d), b.d...), wall: a.wall + b.wall}
}

// bareHandler serves POST /bare/exec, which runs `true` with no sandbox,
// on a loopback port for the series only.
func bareHandler(total, concurrency int) (series, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /bare/exec", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		var out strings.Builder
		cmd := exec.Command("true")
		cmd.Stdout = &out
		err := cmd.Run()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"success":%t,"output":%q}`, err == nil, out.String())
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return series{}, err
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()
	client := newClient("")
	defer client.CloseIdleConnections()
	return measure(total, concurrency, post(client, "http://"+ln.Addr().String(), "/bare/exec", `{"command":"true"}`)), nil
}

// waitHostClean waits (at most 30 seconds) until no bwrap process of
// another program runs on the host, and says what it found.
func waitHostClean() string {
	deadline := time.Now().Add(30 * time.Second)
	for {
		others := foreignBwraps()
		if others == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return fmt.Sprintf(" (the host was not clean: %d bwrap processes of other programs ran)", others)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// foreignBwraps counts the bwrap processes on the host that this one did
// not start.
func foreignBwraps() int {
	mine := map[int]bool{}
	for _, p := range descendants(os.Getpid()) {
		mine[p] = true
	}
	comms, _ := filepath.Glob("/proc/[0-9]*/comm")
	count := 0
	for _, f := range comms {
		c, err := os.ReadFile(f)
		if err != nil || strings.TrimSpace(string(c)) != "bwrap" {
			continue
		}
		var pid int
		fmt.Sscanf(f, "/proc/%d/comm", &pid)
		if !mine[pid] {
			count++
		}
	}
	return count
}

// newClient is an HTTP client whose connections come from the loopback
// address local ("" for the default): the kit tells anonymous callers
// apart by their address.
func newClient(local string) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 2048}
	if local != "" {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 30 * time.Second}
		tr.DialContext = d.DialContext
	}
	return &http.Client{Transport: tr}
}

// post returns a function that posts body to base+path and fails unless
// the answer is 200 with "success":true.
func post(client *http.Client, base, path, body string) func() error {
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
		if !strings.Contains(string(b), `"success":true`) {
			return fmt.Errorf("not a success: %s", b)
		}
		return nil
	}
}

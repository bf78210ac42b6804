package main

import (
	"fmt"
	"os"
	"text/tabwriter"
)

// goal is one performance target: a ratio of the kit's figure to a
// baseline's, at most or at least limit.
type goal struct {
	name    string
	atLeast bool    // ratio >= limit, else ratio <= limit
	limit   float64 // the target
	ratio   float64 // measured
	shown   string  // the measured figure when not a ratio
	detail  string  // the figures the ratio is of
	skipped string  // why it was not measured
}

func (g goal) met() bool {
	if g.atLeast {
		return g.ratio >= g.limit
	}
	return g.ratio <= g.limit
}

// targets computes the goals from the three phases' series.
func targets(b baselines, peer peerResults, k kitResults) []goal {
	need := func(sec string, g goal) goal {
		if !section(sec) {
			g.skipped = "section (" + sec + ") not run"
		}
		return g
	}
	needPeer := func(sec string, g goal) goal {
		g = need(sec, g)
		if g.skipped == "" && !peer.ran() {
			g.skipped = "go-judge not run"
		}
		return g
	}
	med := func(s series) float64 { return float64(s.pct(.5)) }
	gs := []goal{
		need("a", goal{
			name:  fmt.Sprintf("1. TTI back to back: %d HTTP create → `node -v` OK / bare `node -v` back to back (medians)", *n),
			limit: 1.3, ratio: ratio(med(k.seq), med(b.nodeSeq)),
			detail: ms(k.seq.pct(.5)) + " / " + ms(b.nodeSeq.pct(.5)),
		}),
		need("c", goal{
			name:    fmt.Sprintf("2a. `true` from %d clients: kit req/s / bare bwrap floor (%d at a time)", *conc, *conc),
			atLeast: true, limit: 1.5, ratio: ratio(k.conc.rps(), b.floor.rps()),
			detail: fmt.Sprintf("%.0f / %.0f req/s", k.conc.rps(), b.floor.rps()),
		}),
		needPeer("c", goal{
			name:    fmt.Sprintf("2b. `true` from %d clients: kit req/s / go-judge /run req/s", *conc),
			atLeast: true, limit: 2, ratio: ratio(k.conc.rps(), peer.trueConc.rps()),
			detail: fmt.Sprintf("%.0f / %.0f req/s", k.conc.rps(), peer.trueConc.rps()),
		}),
		needPeer("a", goal{
			name:  "3. sequential `node -v` over HTTP: kit / go-judge /run (medians)",
			limit: 0.6, ratio: ratio(med(k.seq), med(peer.nodeSeq)),
			detail: ms(k.seq.pct(.5)) + " / " + ms(peer.nodeSeq.pct(.5)),
		}),
		need("a", goal{
			name:  "4. machine-wide CPU per request, background included, idle host's share off / bare `node -v`",
			limit: 1.5, ratio: ratio(float64(k.cpu.cpu), float64(b.nodeCPU.cpu)),
			detail: fmt.Sprintf("%s / %s (all of /proc/stat: %s / %s, %.2fx)", ms(k.cpu.cpu), ms(b.nodeCPU.cpu),
				ms(k.cpu.raw), ms(b.nodeCPU.raw), ratio(float64(k.cpu.raw), float64(b.nodeCPU.raw))),
		}),
		need("b", goal{
			name:    fmt.Sprintf("5a. burst of %d HTTP create → `node -v` at once: all succeed", *big),
			atLeast: true, limit: 1, ratio: ratio(float64(len(k.big.d)), float64(*big)),
			shown: fmt.Sprintf("%d/%d", len(k.big.d), *big),
		}),
		need("b", goal{
			name:  fmt.Sprintf("5b. burst of %d: kit / %d bare bwrap `node -v` at once (medians)", *big, *big),
			limit: 1, ratio: ratio(med(k.big), med(b.big)),
			detail: ms(k.big.pct(.5)) + " / " + ms(b.big.pct(.5)),
		}),
		need("b", goal{
			name:  fmt.Sprintf("6. fairness: a second caller's request during the burst / on the idle kit (medians, %d / %d requests)", len(k.during.d), len(k.idle.d)),
			limit: 2, ratio: ratio(med(k.during), med(k.idle)),
			detail: ms(k.during.pct(.5)) + " / " + ms(k.idle.pct(.5)),
		}),
	}
	return gs
}

// printTargets prints the summary table: target, measured, met?
func printTargets(gs []goal) {
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "performance targets (each against a baseline of this run)\ttarget\tmeasured\tmet?\tkit / baseline")
	for _, g := range gs {
		op := "<="
		if g.atLeast {
			op = ">="
		}
		want := fmt.Sprintf("%s %.2fx", op, g.limit)
		if g.shown != "" {
			want = "all"
		}
		if g.skipped != "" {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t%s\n", g.name, want, g.skipped)
			continue
		}
		got := fmt.Sprintf("%.2fx", g.ratio)
		if g.shown != "" {
			got = g.shown
		}
		met := "no"
		if g.met() {
			met = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", g.name, want, got, met, g.detail)
	}
	tw.Flush()
}

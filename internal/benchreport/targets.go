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

// targets computes the goals from the phases' series. Each baseline
// (bare runs, and go-judge) was measured before the kit's phase (b,
// peer) and again after it (b2, peer2): a target's baseline is both's
// samples, and its detail shows each.
func targets(b, b2 baselines, peer, peer2 peerResults, k kitResults) []goal {
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
	// beside is a baseline's figure before and after the kit's phase.
	beside := func(before, after string) string {
		return " (baseline before the kit " + before + ", after " + after + ")"
	}
	nodeSeq := pool(b.nodeSeq, b2.nodeSeq)
	floor := pool(b.floor, b2.floor)
	bigBare := pool(b.big, b2.big)
	peerTrue := pool(peer.trueConc, peer2.trueConc)
	peerNode := pool(peer.nodeSeq, peer2.nodeSeq)
	nodeCPU := pooledCPU(b.nodeCPU, b2.nodeCPU)
	rps := func(s series) string { return fmt.Sprintf("%.0f", s.rps()) }
	gs := []goal{
		need("a", goal{
			name:  fmt.Sprintf("1. TTI back to back: %d HTTP create → `node -v` OK / bare `node -v` back to back (medians)", *n),
			limit: 1.3, ratio: ratio(med(k.seq), med(nodeSeq)),
			detail: ms(k.seq.pct(.5)) + " / " + ms(nodeSeq.pct(.5)) + beside(ms(b.nodeSeq.pct(.5)), ms(b2.nodeSeq.pct(.5))),
		}),
		need("c", goal{
			name:    fmt.Sprintf("2a. `true` from %d clients: kit req/s / bare bwrap floor (%d at a time)", *conc, *conc),
			atLeast: true, limit: 1.5, ratio: ratio(k.conc.rps(), floor.rps()),
			detail: fmt.Sprintf("%s / %s req/s", rps(k.conc), rps(floor)) + beside(rps(b.floor), rps(b2.floor)),
		}),
		needPeer("c", goal{
			name:    fmt.Sprintf("2b. `true` from %d clients: kit req/s / go-judge /run req/s", *conc),
			atLeast: true, limit: 2, ratio: ratio(k.conc.rps(), peerTrue.rps()),
			detail: fmt.Sprintf("%s / %s req/s", rps(k.conc), rps(peerTrue)) + beside(rps(peer.trueConc), rps(peer2.trueConc)),
		}),
		needPeer("a", goal{
			name:  "3. sequential `node -v` over HTTP: kit / go-judge /run (medians)",
			limit: 0.6, ratio: ratio(med(k.seq), med(peerNode)),
			detail: ms(k.seq.pct(.5)) + " / " + ms(peerNode.pct(.5)) + beside(ms(peer.nodeSeq.pct(.5)), ms(peer2.nodeSeq.pct(.5))),
		}),
		need("a", goal{
			name:  "4. machine-wide CPU per request, background included, idle host's share off / bare `node -v`",
			limit: 1.5, ratio: ratio(float64(k.cpu.cpu), float64(nodeCPU)),
			detail: ms(k.cpu.cpu) + " / " + ms(nodeCPU) + beside(ms(b.nodeCPU.cpu), ms(b2.nodeCPU.cpu)) +
				fmt.Sprintf("; all of /proc/stat: kit %s, baseline before %s", ms(k.cpu.raw), ms(b.nodeCPU.raw)),
		}),
		need("b", goal{
			name:    fmt.Sprintf("5a. burst of %d HTTP create → `node -v` at once, alone and beside the second caller: all succeed", *big),
			atLeast: true, limit: 1, ratio: ratio(float64(len(k.big.d)+len(k.bigShared.d)), float64(2**big)),
			shown: fmt.Sprintf("%d/%d", len(k.big.d)+len(k.bigShared.d), 2**big),
		}),
		need("b", goal{
			name:  fmt.Sprintf("5b. burst of %d, alone: kit / %d bare bwrap `node -v` at once (medians)", *big, *big),
			limit: 1, ratio: ratio(med(k.big), med(bigBare)),
			detail: ms(k.big.pct(.5)) + " / " + ms(bigBare.pct(.5)) + beside(ms(b.big.pct(.5)), ms(b2.big.pct(.5))),
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
	fmt.Fprintln(tw, "performance targets (each against a baseline of this run, measured before and after the kit's phase)\ttarget\tmeasured\tmet?\tkit / baseline")
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

package main

import (
	"fmt"
	"strings"
	"time"
)

// pairedBursts is two series of bursts that took turns.
type pairedBursts struct {
	a, b       series        // each over all its bursts
	cpuA, cpuB time.Duration // the machine's CPU while each series' bursts ran
	pairs      []string      // each turn's medians, a / b
	ratios     []float64     // each turn's median of a over b
}

// takeTurns runs turns bursts of n at once of a and of b, one after the
// other, b first in the first turn unless aFirst, the order swapped
// every other turn, with settle before each.
// One burst's median moves by a third from one burst to the next (the
// kernel staggers bwrap's starts differently each time, and the machine
// has slow spells): each row is over all of a series' bursts, and each
// turn gives a pair of medians.
func takeTurns(turns, n int, a, b func() error, aFirst bool, settle func()) pairedBursts {
	var pb pairedBursts
	for i := range turns {
		steps := []struct {
			s   *series
			cpu *time.Duration
			fn  func() error
		}{{&pb.a, &pb.cpuA, a}, {&pb.b, &pb.cpuB, b}}
		if (i%2 == 1) == aFirst {
			steps[0], steps[1] = steps[1], steps[0]
		}
		m := map[*series]time.Duration{}
		for _, st := range steps {
			settle()
			c := busyCPU()
			burst := measure(n, n, st.fn)
			*st.cpu += busyCPU() - c
			st.s.d = append(st.s.d, burst.d...)
			m[st.s] = burst.pct(.5)
		}
		pb.pairs = append(pb.pairs, fmt.Sprintf("%s / %s (%.2fx)", ms(m[&pb.a]), ms(m[&pb.b]), float64(m[&pb.a])/float64(m[&pb.b])))
		pb.ratios = append(pb.ratios, float64(m[&pb.a])/float64(m[&pb.b]))
	}
	return pb
}

// summary is the line under a pair's rows: each turn's medians and the
// median of their ratios.
func (pb pairedBursts) summary(n int, what string) string {
	return fmt.Sprintf("    each burst of %d, %s medians: %s; median of the bursts' ratios %.2fx", n, what, strings.Join(pb.pairs, ", "), median(pb.ratios))
}

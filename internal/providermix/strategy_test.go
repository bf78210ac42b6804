package providermix

import (
	"slices"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// With Fallback over every provider, a creation goes past each provider
// whose service is down, in order, to the first healthy one: with the
// first k down, the k+1-th serves, for every k. Each provider's failure
// is a provider error to the strategy (so it falls back), leaves nothing
// on its service, and sends no create to the providers after the one that
// serves.
func TestFallbackAcrossProviders(t *testing.T) {
	// The first provider fails in every round but the first, more times
	// in a row than the default UnhealthyAfter: here no provider is to be
	// skipped as unhealthy.
	m := newMix(t, computemw.Config{UnhealthyAfter: 100}, func(names []string) computemw.Strategy {
		return computemw.Fallback(names...)
	})
	for k, want := range m.names {
		down := m.names[:k]
		before := m.attempts()
		for _, n := range down {
			m.members[n].goDown()
		}
		got, status, code := m.exec(t)
		if got != want {
			t.Fatalf("with %v down: exec ran on %q (%d %s), want %q", down, got, status, code, want)
		}
		m.checkAttempts(t, before, down, want)
	}
}

// Priority uses its first healthy provider, whichever it is, and does not
// try another when that one fails; once the first is marked unhealthy the
// next one serves.
func TestPriorityAcrossProviders(t *testing.T) {
	var order []string
	m := newMix(t, computemw.Config{UnhealthyAfter: 1}, func(names []string) computemw.Strategy {
		order = slices.Clone(names) // the remote ones in reverse, then local
		slices.Reverse(order)
		if order[0] == local.Name {
			order = append(order[1:], local.Name)
		}
		return computemw.Priority(order...)
	})
	first, second := order[0], order[1]
	for range 2 {
		before := m.attempts()
		if got, status, code := m.exec(t); got != first {
			t.Fatalf("exec ran on %q (%d %s), want %q", got, status, code, first)
		}
		m.checkAttempts(t, before, nil, first)
	}

	before := m.attempts()
	m.members[first].goDown()
	if got, status, code := m.exec(t); got != "" || status != 503 || code != "UNAVAILABLE" {
		t.Fatalf("exec with %s down: ran on %q (%d %s), want 503 UNAVAILABLE", first, got, status, code)
	}
	m.checkAttempts(t, before, []string{first}, "")

	// UnhealthyAfter is 1: the strategy now skips the first provider.
	before = m.attempts()
	if got, status, code := m.exec(t); got != second {
		t.Fatalf("exec with %s unhealthy: ran on %q (%d %s), want %q", first, got, status, code, second)
	}
	if got := m.attempts()[second] - before[second]; got != 1 {
		t.Errorf("%s: %d creation requests, want 1", second, got)
	}
}

// RoundRobin over every provider runs each creation on the next provider
// in turn, and moves on to the following one when a provider's service is
// down.
func TestRoundRobinAcrossProviders(t *testing.T) {
	m := newMix(t, computemw.Config{}, func(names []string) computemw.Strategy {
		return computemw.RoundRobin(names...)
	})
	for round := range 2 {
		for _, want := range m.names {
			before := m.attempts()
			if got, status, code := m.exec(t); got != want {
				t.Fatalf("round %d: exec ran on %q (%d %s), want %q", round, got, status, code, want)
			}
			m.checkAttempts(t, before, nil, want)
		}
	}

	// The first provider's turn, with its service down: the next serves
	// it, and then its own turn.
	first, next := m.names[0], m.names[1]
	before := m.attempts()
	m.members[first].goDown()
	if got, status, code := m.exec(t); got != next {
		t.Fatalf("exec with %s down: ran on %q (%d %s), want %q", first, got, status, code, next)
	}
	m.checkAttempts(t, before, []string{first}, next)
	for _, want := range m.names[1:] {
		before := m.attempts()
		if got, status, code := m.exec(t); got != want {
			t.Fatalf("exec ran on %q (%d %s), want %q", got, status, code, want)
		}
		m.checkAttempts(t, before, nil, want)
	}
}

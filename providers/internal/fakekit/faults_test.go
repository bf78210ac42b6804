package fakekit_test

import (
	"slices"
	"testing"

	"github.com/computemw/kit/providers/internal/fakekit"
)

// TestFaults applies the faults of one operation in the order added, each
// for its number of calls, and leaves other operations alone.
func TestFaults(t *testing.T) {
	var q fakekit.Faults[string]
	q.Add("get", 2, "first")
	q.Add("put", 0, "other")
	q.Add("get", 1, "second")
	var got []string
	for range 4 {
		f, ok := q.Take("get")
		if !ok {
			f = "none"
		}
		got = append(got, f)
	}
	if want := []string{"first", "first", "second", "none"}; !slices.Equal(got, want) {
		t.Errorf("get took %v, want %v", got, want)
	}
	if f, ok := q.Take("put"); !ok || f != "other" {
		t.Errorf("put took %q, %v", f, ok)
	}
	if _, ok := q.Take("put"); ok {
		t.Error("a fault of Times 0 applied twice")
	}
}

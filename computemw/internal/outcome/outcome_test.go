package outcome_test

import (
	"slices"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/internal/outcome"
)

// The codes Of knows and the statuses it names are the kit's.
func TestCodesAreTheKits(t *testing.T) {
	for code, want := range map[computemw.Code]string{
		computemw.CodeTimeout:   outcome.Timeout,
		computemw.CodeResource:  outcome.Resource,
		computemw.CodeExecution: outcome.Execution,
		computemw.CodeInternal:  outcome.Error,
	} {
		if got := outcome.Of(true, 0, string(code)); got != want {
			t.Errorf("%s: %q, want %q", code, got, want)
		}
	}
	if !slices.Equal(outcome.All(), []string{computemw.StatusSuccess, computemw.StatusFailure, computemw.StatusTimeout,
		computemw.StatusResource, computemw.StatusExecution, computemw.StatusError}) {
		t.Errorf("statuses %q are not the kit's", outcome.All())
	}
	if outcome.Of(false, 0, "") != outcome.Success || outcome.Of(false, 2, "") != outcome.Failure {
		t.Error("an execution that ran is a success or a failure by its exit code")
	}
}

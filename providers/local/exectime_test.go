//go:build linux

package local_test

import (
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// Protection: a sandbox's Resources.MaxExecutionTime bounds every one of
// its executions, whatever timeout an execution asks for, and is the
// default when it asks for none.
func TestMaxExecutionTimeHonoured(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	sb := newSandbox(t, p, computemw.CreateOptions{Resources: computemw.Resources{MaxExecutionTime: time.Second}})
	for _, asked := range []time.Duration{0, 20 * time.Second} {
		_, err := bounded(t, 15*time.Second, func() (*computemw.Result, error) {
			return sb.Exec(t.Context(), "sleep 30", computemw.ExecOptions{Timeout: asked})
		})
		wantCode(t, err, computemw.CodeTimeout)
		if !strings.Contains(err.Error(), "time limit of 1s") {
			t.Errorf("asked for %s: %v, want the sandbox's limit of 1s", asked, err)
		}
	}
	// A shorter timeout of the execution's own still wins.
	_, err := sb.Exec(t.Context(), "sleep 30", computemw.ExecOptions{Timeout: 500 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "time limit of 500ms") {
		t.Errorf("a 500ms timeout: %v", err)
	}
}

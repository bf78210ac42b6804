//go:build linux

package local_test

import (
	"io"
	"sync"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/providers/local"
)

// Executions go through the start gate: while its one slot is held by an
// execution that waits for its input, two more either wait their turn
// (busy CPUs) or start beside it (CPUs with room); all end with their
// output, and the gate ends empty (checkNoLeaks).
func TestStartGateOrdersExecutions(t *testing.T) {
	p := newTestProvider(t, local.Config{StartGate: local.StartGateConfig{Slots: 1, Hold: 2 * time.Second}})
	if p.StartGateStats().Slots != 1 {
		computemwtest.Require(t, false, "the start gate needs the kernel's CPU pressure (/proc/pressure/cpu)")
	}
	first := newSandbox(t, p, computemw.CreateOptions{})
	others := []computemw.Sandbox{newSandbox(t, p, computemw.CreateOptions{}), newSandbox(t, p, computemw.CreateOptions{})}

	stdinR, stdinW := io.Pipe()
	defer stdinW.Close()
	firstDone := make(chan *computemw.Result, 1)
	go func() {
		res, err := first.Exec(t.Context(), `read x; echo "first $x"`, computemw.ExecOptions{Stdin: stdinR, Timeout: 20 * time.Second})
		if err != nil {
			t.Errorf("first: %v", err)
		}
		firstDone <- res
	}()
	if !eventually(10*time.Second, func() bool { return p.StartGateStats().Running == 1 }) {
		t.Fatalf("the first execution never took the slot: %+v", p.StartGateStats())
	}
	var wg sync.WaitGroup
	for i, sb := range others {
		wg.Go(func() {
			res := run(t, sb, "echo other", computemw.ExecOptions{})
			if res.Stdout != "other\n" {
				t.Errorf("other %d: stdout %q", i, res.Stdout)
			}
		})
	}
	wg.Wait()
	if s := p.StartGateStats(); s.Waited != 2 {
		t.Errorf("the other two did not go through the gate: %+v", s)
	}
	io.WriteString(stdinW, "go\n")
	if res := <-firstDone; res == nil || res.Stdout != "first go\n" {
		t.Errorf("first: %+v", res)
	}
	if s := p.StartGateStats(); s.Running != 0 || s.Waiting != 0 {
		t.Errorf("after all: %+v", s)
	}
}

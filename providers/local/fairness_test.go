//go:build linux

package local_test

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// startSignal is a program's stdout that tells when the program has
// started (its first write).
type startSignal struct {
	once    sync.Once
	started chan<- int
	i       int
}

func (s *startSignal) Write(b []byte) (int, error) {
	s.once.Do(func() { s.started <- s.i })
	return len(b), nil
}

// Through the kit, on busy CPUs with one start slot: while one caller has
// an execution running and many more waiting in its three sandboxes,
// another caller's `echo hi` starts at once, beside the slot, and
// completes while none of the first caller's waiting executions has
// started. The kit names the callers to the provider (ExecOptions.Caller):
// by sandbox alone, the second would be one more of the first caller's
// turns.
func TestStartGateFairThroughTheKit(t *testing.T) {
	p := newTestProvider(t, local.Config{StartGate: local.StartGateConfig{Slots: -1}})
	local.GateOnBusyCPUs(p, 1)
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{p}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kit.Close(context.Background()) })

	actx, stopA := context.WithCancel(computemw.WithPrincipal(t.Context(), computemw.Principal{ID: "a"}))
	defer stopA()
	bctx := computemw.WithPrincipal(t.Context(), computemw.Principal{ID: "b"})
	var sa []computemw.Sandbox
	for range 3 {
		sb, err := kit.Create(actx, "", computemw.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer sb.Destroy(context.Background())
		sa = append(sa, sb)
	}
	sb, err := kit.Create(bctx, "", computemw.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Destroy(context.Background())

	// Caller a: many executions, spread over its sandboxes, that each
	// announce their start, then wait until their input ends; the first
	// runs, the rest wait their turn.
	const many = 8
	started := make(chan int, many)
	inputs := make([]*io.PipeWriter, many)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopA()
	for i := range many {
		r, w := io.Pipe()
		inputs[i] = w
		defer w.Close()
		wg.Go(func() {
			_, _ = sa[i%len(sa)].Exec(actx, "echo started; read x", computemw.ExecOptions{Stdin: r,
				Stdout: &startSignal{started: started, i: i}, Timeout: 5 * time.Minute})
		})
		if i == 0 {
			if got := <-started; got != 0 {
				t.Fatalf("execution %d started first", got)
			}
			continue
		}
		if !eventually(10*time.Second, func() bool { return p.StartGateStats().Waiting == i }) {
			t.Fatalf("caller a's execution %d never queued: %+v", i, p.StartGateStats())
		}
	}

	// Caller b: one quick execution behind them.
	bdone := make(chan *computemw.Result, 1)
	wg.Go(func() {
		res, err := sb.Exec(bctx, "echo hi", computemw.ExecOptions{Timeout: 5 * time.Minute})
		if err != nil {
			t.Errorf("caller b: %v", err)
		}
		bdone <- res
	})
	var res *computemw.Result
	select {
	case res = <-bdone:
	case <-time.After(time.Minute):
		t.Fatalf("caller b's execution did not complete while caller a's waited: %+v", p.StartGateStats())
	}
	if res == nil || res.Stdout != "hi\n" {
		t.Fatalf("caller b: %+v", res)
	}
	select {
	case i := <-started:
		t.Errorf("caller a's execution %d started before caller b's completed", i)
	default:
	}
	if s := p.StartGateStats(); s.Waiting != many-1 {
		t.Errorf("caller b's completed beside caller a's line, which should still hold %d: %+v", many-1, s)
	}
	for _, w := range inputs {
		w.Close()
	}
}

// An execution waiting for its turn to start waits no longer than its
// time limit: it then fails as a timeout, and the gate forgets it.
func TestStartGateWaitEndsAtTheTimeLimit(t *testing.T) {
	p := newTestProvider(t, local.Config{StartGate: local.StartGateConfig{Slots: -1}})
	local.GateOnBusyCPUs(p, 1)
	holder := newSandbox(t, p, computemw.CreateOptions{})
	waiter := newSandbox(t, p, computemw.CreateOptions{})

	r, w := io.Pipe()
	defer w.Close()
	held := make(chan error, 1)
	go func() {
		_, err := holder.Exec(t.Context(), "read x", computemw.ExecOptions{Stdin: r, Timeout: 5 * time.Minute})
		held <- err
	}()
	if !eventually(10*time.Second, func() bool { return p.StartGateStats().Running == 1 }) {
		t.Fatalf("the first execution never took the slot: %+v", p.StartGateStats())
	}
	_, err := bounded(t, 30*time.Second, func() (*computemw.Result, error) {
		return waiter.Exec(t.Context(), "echo never", computemw.ExecOptions{Timeout: 100 * time.Millisecond})
	})
	if e := computemw.AsError(err); e == nil || e.Code != computemw.CodeTimeout {
		t.Errorf("a wait past the time limit: %v, want a timeout", err)
	}
	if s := p.StartGateStats(); s.Waiting != 0 || s.Running != 1 {
		t.Errorf("after the wait: %+v", s)
	}
	w.Close()
	if err := <-held; err != nil {
		t.Errorf("the first execution: %v", err)
	}
}

package computemwtest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
)

// ContextSuite is the conformance suite of a [computemw.ContextRunner]'s
// Python contexts: newSandbox returns a sandbox (destroyed by the caller's
// cleanup) that holds them. It checks that state survives between
// executions, that the last expression's value is the main result, that
// an exception is the result's Error with its traceback, that an
// interrupt stops a running execution and keeps the state (the suite
// interrupts once the code's first output has streamed: no timing), that
// a restart loses the state, and that a deleted or unknown context is
// NOT_FOUND.
func ContextSuite(t *testing.T, newSandbox func(t *testing.T) computemw.Sandbox) {
	t.Helper()
	ctxOf := func(t *testing.T) context.Context {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		t.Cleanup(cancel)
		return ctx
	}
	start := func(t *testing.T) (computemw.ContextRunner, string) {
		t.Helper()
		cr, ok := newSandbox(t).(computemw.ContextRunner)
		if !ok {
			t.Fatal("the sandbox is not a computemw.ContextRunner")
		}
		c, err := cr.CreateContext(ctxOf(t), computemw.ContextOptions{Language: "python"})
		if err != nil {
			t.Fatalf("CreateContext: %v", err)
		}
		return cr, c.ID
	}
	run := func(t *testing.T, cr computemw.ContextRunner, id, code string) *computemw.ContextResult {
		t.Helper()
		res, err := cr.RunInContext(ctxOf(t), id, code, computemw.ExecOptions{})
		if err != nil {
			t.Fatalf("RunInContext(%q): %v", code, err)
		}
		return res
	}
	mainValue := func(res *computemw.ContextResult) string {
		for _, r := range res.Results {
			if r.IsMain {
				return r.Data["text/plain"]
			}
		}
		return ""
	}

	t.Run("StateSurvives", func(t *testing.T) {
		cr, id := start(t)
		run(t, cr, id, "x = 41\nimport math\ndef twice(v):\n    return 2 * v")
		if res := run(t, cr, id, "print(x + 1)"); res.Stdout != "42\n" || res.Error != nil || res.ExitCode != 0 {
			t.Fatalf("print(x + 1): stdout %q, error %+v", res.Stdout, res.Error)
		}
		if got := mainValue(run(t, cr, id, "twice(math.floor(10.5))")); got != "20" {
			t.Fatalf("last expression: %q, want 20", got)
		}
	})
	t.Run("ExceptionIsTheResultsError", func(t *testing.T) {
		cr, id := start(t)
		res := run(t, cr, id, "def f():\n    return 1 / 0\nf()")
		if res.Error == nil || res.Error.Name != "ZeroDivisionError" || res.ExitCode == 0 || !strings.Contains(res.Error.Traceback, "1 / 0") {
			t.Fatalf("exception: %+v (exit %d)", res.Error, res.ExitCode)
		}
	})
	t.Run("InterruptKeepsState", func(t *testing.T) {
		cr, id := start(t)
		run(t, cr, id, "x = 41")
		w := &seenWriter{want: "looping", seen: make(chan struct{})}
		done := make(chan *computemw.ContextResult, 1)
		go func() {
			res, _ := cr.RunInContext(ctxOf(t), id, "print('looping', flush=True)\nwhile True: pass", computemw.ExecOptions{Stdout: w})
			done <- res
		}()
		select {
		case <-w.seen:
		case res := <-done:
			t.Fatalf("the loop ended before its interrupt: %+v", res)
		}
		if err := cr.InterruptContext(ctxOf(t), id); err != nil {
			t.Fatalf("InterruptContext: %v", err)
		}
		if res := <-done; res == nil || res.Error == nil || res.Error.Name != "KeyboardInterrupt" {
			t.Fatalf("interrupted execution: %+v", res)
		}
		if got := mainValue(run(t, cr, id, "x")); got != "41" {
			t.Fatalf("x after the interrupt: %q", got)
		}
	})
	t.Run("RestartDeleteUnknown", func(t *testing.T) {
		cr, id := start(t)
		run(t, cr, id, "x = 1")
		if err := cr.RestartContext(ctxOf(t), id); err != nil {
			t.Fatalf("RestartContext: %v", err)
		}
		if res := run(t, cr, id, "x"); res.Error == nil || res.Error.Name != "NameError" {
			t.Fatalf("after a restart: %+v %+v", res.Results, res.Error)
		}
		if err := cr.DeleteContext(ctxOf(t), id); err != nil {
			t.Fatalf("DeleteContext: %v", err)
		}
		for name, err := range map[string]error{
			"run in a deleted context": func() error { _, err := cr.RunInContext(ctxOf(t), id, "1", computemw.ExecOptions{}); return err }(),
			"interrupt an unknown one": cr.InterruptContext(ctxOf(t), "ctx-unknown"),
			"delete an unknown one":    cr.DeleteContext(ctxOf(t), "ctx-unknown"),
		} {
			if computemw.AsError(err).Code != computemw.CodeNotFound {
				t.Errorf("%s: %v, want NOT_FOUND", name, err)
			}
		}
	})
}

// seenWriter closes seen once what was written contains want.
type seenWriter struct {
	want string
	mu   sync.Mutex
	buf  strings.Builder
	once sync.Once
	seen chan struct{}
}

func (w *seenWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

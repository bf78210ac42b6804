package e2b_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/internal/providertest"
)

// A terminal runs on a pseudo-terminal: typed input reaches the program,
// Resize changes its window, and Close kills it (exit 137, no error).
func TestTerminal(t *testing.T) {
	p, f := newProvider(t, nil)
	sb := create(t, p, computemw.CreateOptions{})
	ctx := testCtx(t)
	term, err := sb.OpenTerminal(ctx, computemw.TerminalOptions{Command: "sh", Cols: 90, Rows: 20, Env: map[string]string{"GREETING": "hi there"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(term, "tty; echo \"$GREETING $TERM\"; stty size\n"); err != nil {
		t.Fatal(err)
	}
	readUntil(t, term, "hi there xterm-256color", "20 90")
	if err := term.Resize(132, 43); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(term, "stty size\n"); err != nil {
		t.Fatal(err)
	}
	readUntil(t, term, "43 132")

	if err := term.Close(); err != nil {
		t.Fatal(err)
	}
	code, err := term.Wait()
	if err != nil || code != 137 {
		t.Errorf("Wait after Close = %d, %v; want 137, nil", code, err)
	}
	if _, err := term.Write([]byte("x")); err == nil {
		t.Error("Write after Close succeeded")
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := f.WaitNoProcesses(wctx); err != nil {
		t.Error(err)
	}

	// Destroy ends the terminals still open.
	term, err = sb.OpenTerminal(ctx, computemw.TerminalOptions{Command: "sleep 60", Cols: 80, Rows: 24})
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if code, err := term.Wait(); err != nil || code != 137 {
		t.Errorf("Wait after Destroy = %d, %v", code, err)
	}
	_, err = sb.OpenTerminal(ctx, computemw.TerminalOptions{})
	providertest.WantCode(t, "OpenTerminal after Destroy", err, computemw.CodeNotFound)
}

// readUntil reads the terminal until every want has appeared.
func readUntil(t *testing.T, r io.Reader, want ...string) {
	t.Helper()
	var out strings.Builder
	buf := make([]byte, 4096)
	for {
		done := true
		for _, w := range want {
			if !strings.Contains(out.String(), w) {
				done = false
			}
		}
		if done {
			return
		}
		n, err := r.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			t.Fatalf("read: %v; output %q, want %q", err, out.String(), want)
		}
	}
}

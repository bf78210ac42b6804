package cloudflare_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/cloudflare"
	"github.com/computemw/kit/providers/internal/providertest"
)

// A terminal runs on the bridge's PTY: typed input reaches the program,
// which sees the sandbox's and the terminal's variables, Resize changes
// its window, and Close ends it (exit 137, no error) and its session.
func TestTerminal(t *testing.T) {
	p, f := newProvider(t, nil)
	sb := create(t, p, computemw.CreateOptions{Env: map[string]string{"FROM_CREATE": "made"}})
	ctx := testCtx(t)
	term, err := sb.OpenTerminal(ctx, computemw.TerminalOptions{Command: "sh", Cols: 90, Rows: 20, Env: map[string]string{"GREETING": "hi there"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(term, "tty; echo \"$GREETING $FROM_CREATE $TERM\"; stty size; pwd\n"); err != nil {
		t.Fatal(err)
	}
	readUntil(t, term, "hi there made xterm-256color", "20 90", "/workspace")
	if err := term.Resize(132, 43); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(term, "stty size\n"); err != nil {
		t.Fatal(err)
	}
	readUntil(t, term, "43 132")
	if f.Sessions(sb.ID()) != 1 || f.PTYs() != 1 {
		t.Errorf("the fake has %d sessions and %d PTYs, want 1 each", f.Sessions(sb.ID()), f.PTYs())
	}
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
	if n := f.Sessions(sb.ID()); n != 0 {
		t.Errorf("%d sessions left after Close", n)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := f.WaitIdle(wctx); err != nil {
		t.Error(err)
	}

	// A program that exits by itself reports its code, and its session
	// goes with it.
	term, err = sb.OpenTerminal(ctx, computemw.TerminalOptions{Command: "sh", Cols: 80, Rows: 24})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(term, "exit 5\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, term); err != nil {
		t.Fatal(err)
	}
	if code, err := term.Wait(); err != nil || code != 5 {
		t.Errorf("Wait after exit 5 = %d, %v", code, err)
	}
	_ = term.Close()

	// A command with arguments is not something the bridge's PTY starts.
	_, err = sb.OpenTerminal(ctx, computemw.TerminalOptions{Command: "sleep 60"})
	providertest.WantCode(t, "OpenTerminal with arguments", err, computemw.CodeExecution)

	// Destroy ends the terminals still open.
	term, err = sb.OpenTerminal(ctx, computemw.TerminalOptions{Cols: 80, Rows: 24})
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

// A terminal of a sandbox attached by ID (as another kit instance does)
// still sees the variables the sandbox was created with.
func TestTerminalOfAttachedSandbox(t *testing.T) {
	p, f := newProvider(t, nil)
	sb := create(t, p, computemw.CreateOptions{Env: map[string]string{"COURSE": "it's go"}})
	other, _ := newProvider(t, func(o *cloudflare.Options) { o.URL = f.URL })
	ctx := testCtx(t)
	att, err := other.Attach(ctx, sb.ID())
	if err != nil {
		t.Fatal(err)
	}
	other.Detach(att)
	term, err := att.(computemw.TerminalOpener).OpenTerminal(ctx, computemw.TerminalOptions{Command: "sh", Cols: 80, Rows: 24})
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	if _, err := io.WriteString(term, "echo \"course=$COURSE.\"\n"); err != nil {
		t.Fatal(err)
	}
	readUntil(t, term, "course=it's go.")
}

package vercel_test

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/vercel"
	"github.com/computemw/kit/providers/vercel/vercelfake"
)

// readUntil reads a terminal's output until it holds want.
func readUntil(t *testing.T, r io.Reader, want string) string {
	t.Helper()
	var out bytes.Buffer
	buf := make([]byte, 4096)
	for !strings.Contains(out.String(), want) {
		n, err := r.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			t.Fatalf("reading the terminal: %v (output %q, want %q)", err, out.String(), want)
		}
	}
	return out.String()
}

// A terminal is a real pseudo-terminal of the session: typed input
// reaches the program, a resize reaches it as a new window size, its
// exit code is reported, and the access token never reaches the
// terminal's WebSocket (the fake fails the test if it does).
func TestTerminal(t *testing.T) {
	p, fake := newProvider(t, vercelfake.Options{}, vercel.Options{})
	sb := create(t, p, computemw.CreateOptions{})
	ctx := ctxT(t, 30*time.Second)
	term, err := sb.OpenTerminal(ctx, computemw.TerminalOptions{Command: "sh", Cols: 80, Rows: 24, Env: map[string]string{"WHO": "vercel"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(term, "stty size; echo \"hi $WHO\"; pwd\n"); err != nil {
		t.Fatal(err)
	}
	out := readUntil(t, term, "hi vercel")
	if !strings.Contains(out, "24 80") {
		t.Errorf("the terminal printed %q, want its size 24 80", out)
	}
	if err := term.Resize(120, 40); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(term, "stty size; exit 5\n"); err != nil {
		t.Fatal(err)
	}
	readUntil(t, term, "40 120")
	if code, err := term.Wait(); err != nil || code != 5 {
		t.Errorf("Wait = %d, %v; want 5", code, err)
	}
	if err := term.Close(); err != nil {
		t.Fatal(err)
	}
	if fake.Calls("openInteractive") != 1 {
		t.Errorf("openInteractive called %d times", fake.Calls("openInteractive"))
	}

	// A terminal left open ends with its sandbox.
	other, err := sb.OpenTerminal(ctx, computemw.TerminalOptions{Cols: 80, Rows: 24})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(other, "echo ready\n"); err != nil {
		t.Fatal(err)
	}
	readUntil(t, other, "ready")
	if err := sb.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Wait(); err != nil {
		t.Logf("the terminal ended with its sandbox: %v", err)
	}
	if n := fake.Running(); n != 0 {
		t.Errorf("%d programs still running after Destroy", n)
	}
}

// Destroying a sandbox whose terminal's output nobody reads (a program
// that has not stopped printing) returns: the output left is dropped.
func TestTerminalUnreadOutputAtDestroy(t *testing.T) {
	p, _ := newProvider(t, vercelfake.Options{}, vercel.Options{})
	sb := create(t, p, computemw.CreateOptions{})
	ctx := ctxT(t, 30*time.Second)
	term, err := sb.OpenTerminal(ctx, computemw.TerminalOptions{Command: "sh", Cols: 80, Rows: 24})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(term, "echo go''ne; while :; do echo more; done\n"); err != nil {
		t.Fatal(err)
	}
	readUntil(t, term, "gone")
	if err := sb.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := term.Wait(); err != nil {
		t.Logf("the closed terminal ended with %v", err)
	}
}

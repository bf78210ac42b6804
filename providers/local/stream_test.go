//go:build linux

package local_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// notifyWriter collects output and signals when it contains a string.
type notifyWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	want  string
	found chan struct{}
	once  sync.Once
}

func newNotifyWriter(want string) *notifyWriter {
	return &notifyWriter{want: want, found: make(chan struct{})}
}

// String returns what was written so far.
func (w *notifyWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func (w *notifyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.found) })
	}
	return len(p), nil
}

// TestExecStreamsAsProduced: the program prints "first", then waits for
// input that the test sends only after it has received "first" through
// the stream. Without live streaming this would never finish.
func TestExecStreamsAsProduced(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	sb := newSandbox(t, p, computemw.CreateOptions{})
	out := newNotifyWriter("first\n")
	stdinR, stdinW := io.Pipe()
	go func() {
		select {
		case <-out.found:
			io.WriteString(stdinW, "go\n")
		case <-time.After(20 * time.Second):
		}
		stdinW.Close()
	}()
	res, err := bounded(t, 30*time.Second, func() (*computemw.Result, error) {
		return sb.Exec(t.Context(), `echo first; read x; echo "second $x"`, computemw.ExecOptions{
			Stdin: stdinR, Stdout: out, Timeout: 25 * time.Second,
		})
	})
	if err != nil {
		t.Fatalf("exec: %v", err)
	}
	if res.Stdout != "first\nsecond go\n" {
		t.Errorf("stdout %q", res.Stdout)
	}
	if got := out.String(); got != res.Stdout {
		t.Errorf("streamed %q, captured %q", got, res.Stdout)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("client gone") }

// A stream that fails (the client went away) stops the program at once.
func TestExecStreamFailureStops(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	sb := newSandbox(t, p, computemw.CreateOptions{})
	_, err := bounded(t, 20*time.Second, func() (*computemw.Result, error) {
		return sb.Exec(t.Context(), "yes", computemw.ExecOptions{Stdout: failWriter{}, Timeout: 15 * time.Second})
	})
	if err == nil || errors.Is(err, computemw.ErrTimeout) {
		t.Fatalf("exec with a failing stream: %v", err)
	}
}

// TestTerminal runs a shell on a pseudo-terminal: its stdin and stdout are
// terminals, and a resize changes what stty reports.
func TestTerminal(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	sb := newSandbox(t, p, computemw.CreateOptions{})
	term, err := sb.(computemw.TerminalOpener).OpenTerminal(t.Context(), computemw.TerminalOptions{Command: "/bin/sh", Cols: 80, Rows: 24})
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	var mu sync.Mutex
	var screen bytes.Buffer
	changed := make(chan struct{}, 1)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := term.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			mu.Unlock()
			select {
			case changed <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	waitScreen := func(want string) {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for {
			mu.Lock()
			ok := strings.Contains(screen.String(), want)
			mu.Unlock()
			if ok {
				return
			}
			select {
			case <-changed:
			case <-deadline:
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("terminal never showed %q; screen:\n%s", want, screen.String())
			}
		}
	}
	// bwrap binds the pseudo-terminal as the sandbox's /dev/console. The
	// marker is split so that the echoed command line cannot match it.
	if _, err := io.WriteString(term, "tty && [ -t 0 ] && [ -t 1 ] && echo IS-A-\"\"TTY\n"); err != nil {
		t.Fatalf("write: %v", err)
	}
	waitScreen("IS-A-TTY")
	io.WriteString(term, "stty size\n")
	waitScreen("24 80")
	if err := term.Resize(100, 40); err != nil {
		t.Fatal(err)
	}
	io.WriteString(term, "stty size\n")
	waitScreen("40 100")
	io.WriteString(term, "exit 3\n")
	code, err := term.Wait()
	if err != nil || code != 3 {
		t.Errorf("wait: %d %v", code, err)
	}
}

//go:build linux

package local_test

import (
	"io"
	"slices"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// Executions of one session that overlap each get their own output and
// exit status; the end of one does not end the other, nor what the other
// started; once the last one ends, what they all left is gone by the
// time its result comes back, and the session serves the next execution.
func TestOverlappingExecutionsInOneSession(t *testing.T) {
	p := newTestProvider(t, local.Config{WarmPool: local.PoolConfig{Size: -1}})
	sb := newSandbox(t, p, computemw.CreateOptions{})
	pm := sb.(computemw.ProcessManager)
	run(t, sb, "true", computemw.ExecOptions{}) // the sandbox's init starts with the next one
	exactly := func(command string) []computemw.ProcessInfo {
		return slices.DeleteFunc(procsWith(t, pm, command), func(p computemw.ProcessInfo) bool { return p.Command != command })
	}
	sleeps := func() []computemw.ProcessInfo { return exactly("sleep 1003") }

	// The long one runs until its standard input ends, and leaves a
	// child of its own behind.
	stdin, feed := io.Pipe()
	type outcome struct {
		res *computemw.Result
		err error
	}
	long := make(chan outcome, 1)
	go func() {
		res, err := sb.Exec(t.Context(), "sleep 1003 & cat; echo long done; exit 5", computemw.ExecOptions{Stdin: stdin})
		long <- outcome{res, err}
	}()
	waitUntil(t, "the long execution's child", func() bool { return len(sleeps()) == 1 })

	for i := range 3 {
		res := run(t, sb, "echo short; exit 3", computemw.ExecOptions{})
		if res.ExitCode != 3 || res.Stdout != "short\n" {
			t.Fatalf("short execution %d beside the long one: %+v", i, res)
		}
		if got := sleeps(); len(got) != 1 {
			t.Fatalf("the end of a short execution ended the long one's child: %+v", got)
		}
	}
	// A short one that leaves a detached process: it lives while the
	// long one runs, since an execution that ends kills what is left
	// only when it is the last one running.
	// The short one ends once its child has left its session.
	detach := `setsid sleep 1004 >/dev/null 2>&1 </dev/null & c=$!
while [ "$(cut -d' ' -f6 /proc/$c/stat)" = "$$" ]; do :; done; echo left`
	if res := run(t, sb, detach, computemw.ExecOptions{}); res.Stdout != "left\n" {
		t.Fatalf("%+v", res)
	}
	waitUntil(t, "the detached leftover", func() bool { return len(exactly("sleep 1004")) == 1 })
	if res := run(t, sb, "true", computemw.ExecOptions{}); res.ExitCode != 0 {
		t.Fatalf("%+v", res)
	}
	if got := exactly("sleep 1004"); len(got) != 1 {
		t.Fatalf("a short execution's detached leftover, while the long one runs: %+v", got)
	}
	select {
	case o := <-long:
		t.Fatalf("the long execution ended with a short one: %+v, %v", o.res, o.err)
	default:
	}

	if _, err := feed.Write([]byte("typed\n")); err != nil {
		t.Fatal(err)
	}
	feed.Close()
	o := <-long
	if o.err != nil || o.res.ExitCode != 5 || o.res.Stdout != "typed\nlong done\n" {
		t.Fatalf("long execution: %+v, %v", o.res, o.err)
	}
	// Killed before the long one's exit was reported.
	if got, left := sleeps(), exactly("sleep 1004"); len(got)+len(left) != 0 {
		t.Fatalf("left after the last execution ended: %+v %+v", got, left)
	}
	if res := run(t, sb, "echo after", computemw.ExecOptions{}); res.Stdout != "after\n" || res.ExitCode != 0 {
		t.Fatalf("after: %+v", res)
	}
}

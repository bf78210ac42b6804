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
// started; once the last one ends, what they left is gone, and the
// session serves the next execution.
func TestOverlappingExecutionsInOneSession(t *testing.T) {
	p := newTestProvider(t, local.Config{WarmPool: local.PoolConfig{Size: -1}})
	sb := newSandbox(t, p, computemw.CreateOptions{})
	pm := sb.(computemw.ProcessManager)
	run(t, sb, "true", computemw.ExecOptions{}) // the sandbox's init starts with the next one
	sleeps := func() []computemw.ProcessInfo {
		return slices.DeleteFunc(procsWith(t, pm, "sleep 1003"), func(p computemw.ProcessInfo) bool { return p.Command != "sleep 1003" })
	}

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
	waitUntil(t, "the long execution's child gone", func() bool { return len(sleeps()) == 0 })
	if res := run(t, sb, "echo after", computemw.ExecOptions{}); res.Stdout != "after\n" || res.ExitCode != 0 {
		t.Fatalf("after: %+v", res)
	}
}

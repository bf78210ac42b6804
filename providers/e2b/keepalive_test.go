package e2b_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/e2b"
	"github.com/computemw/kit/providers/internal/providertest"
)

// A command that prints nothing for longer than the edge's idle timeout
// keeps its stream: the provider asks envd for keepalive events. The
// command waits for a line on its standard input, which the test sends
// only once the fake has sent ten keepalives (a second of silence at
// 0.1 s each, twice the fake's idle cut of 0.5 s). Without keepalives the
// same command loses its stream.
func TestSilentCommandKeepsStream(t *testing.T) {
	for _, tc := range []struct {
		name     string
		interval time.Duration
		kept     bool
	}{
		{"keepalives", 0, true}, // the default interval
		{"no keepalives", -1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, f := newProvider(t, func(o *e2b.Options) { o.KeepaliveInterval = tc.interval })
			// One second of the header lasts 1/500 of the fake's second:
			// the default 50 s is 0.1 s.
			f.SetKeepaliveSecond(2 * time.Millisecond)
			f.SetIdleCut(500 * time.Millisecond)
			sb := create(t, p, computemw.CreateOptions{})
			ctx := testCtx(t)

			type outcome struct {
				res *computemw.Result
				err error
			}
			done := make(chan outcome, 1)
			in, feed := io.Pipe()
			defer feed.Close() // ends the input feeder however the run ended
			go func() {
				res, err := sb.Exec(ctx, "read line; echo got $line; exit 7", computemw.ExecOptions{Stdin: in})
				done <- outcome{res, err}
			}()
			var early *outcome
			wctx, stopWait := context.WithCancel(ctx)
			kept := make(chan error, 1)
			go func() { kept <- f.WaitFor(wctx, func() bool { return f.Keepalives() >= 10 }) }()
			select {
			case o := <-done:
				early = &o
				stopWait()
				<-kept
			case err := <-kept:
				if err != nil {
					t.Fatal(err)
				}
			}
			stopWait()
			if !tc.kept {
				if early == nil {
					t.Fatalf("%d keepalives sent although the provider asked for none", f.Keepalives())
				}
				providertest.WantCode(t, "Exec of a silent command without keepalives", early.err, computemw.CodeUnavailable)
				return
			}
			if early != nil {
				t.Fatalf("the silent command's run ended after %d keepalives: %+v, %v", f.Keepalives(), early.res, early.err)
			}
			if _, err := io.WriteString(feed, "go\n"); err != nil {
				t.Fatal(err)
			}
			_ = feed.Close()
			var o outcome
			select {
			case o = <-done:
			case <-ctx.Done():
				t.Fatal("the command did not end")
			}
			if o.err != nil || o.res.ExitCode != 7 || o.res.Stdout != "got go\n" {
				t.Fatalf("Exec = %+v, %v; want exit code 7 and its output", o.res, o.err)
			}
		})
	}
}

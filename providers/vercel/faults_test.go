package vercel_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/internal/providertest"
	"github.com/computemw/kit/providers/vercel"
	"github.com/computemw/kit/providers/vercel/vercelfake"
)

// Vendor statuses become the kit's classes; a create is never retried,
// and the token appears in no error.
func TestCreateErrorClasses(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   computemw.Code
	}{
		{400, computemw.CodeBadRequest},
		{404, computemw.CodeNotFound},
		{408, computemw.CodeTimeout},
		{429, computemw.CodeRateLimited},
		{500, computemw.CodeUnavailable},
		{503, computemw.CodeUnavailable},
		{507, computemw.CodeResource},
		{401, computemw.CodeUnavailable},
	} {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			// After a 5xx the outcome is unknown: the provider tries to
			// delete the sandbox by its name for CleanupWindow.
			p, fake := newProvider(t, vercelfake.Options{}, vercel.Options{CleanupWindow: 300 * time.Millisecond})
			fake.Inject(vercelfake.Fault{Op: "createSandbox", Status: tc.status, RetryAfter: 7 * time.Second})
			_, err := p.Create(ctxT(t, 10*time.Second), computemw.CreateOptions{})
			e := providertest.WantCode(t, "Create", err, tc.code)
			if tc.status == 429 && e.RetryAfter != 7*time.Second {
				t.Errorf("RetryAfter = %s, want the vendor's 7s", e.RetryAfter)
			}
			if n := fake.Calls("createSandbox"); n != 1 {
				t.Errorf("createSandbox called %d times; a create must not be retried", n)
			}
			if strings.Contains(err.Error(), fake.Token) || strings.Contains(e.Message, fake.Token) {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
}

// An idempotent call is retried after a 429 (honouring Retry-After), a 503
// and a dropped connection.
func TestIdempotentCallsRetried(t *testing.T) {
	p, fake := newProvider(t, vercelfake.Options{}, vercel.Options{})
	clock := &providertest.RetryClock{}
	vercel.SetRetryWait(p, clock.Wait)
	sb := create(t, p, computemw.CreateOptions{})
	ctx := ctxT(t, 20*time.Second)
	if err := sb.WriteFile(ctx, "f.txt", []byte("x")); err != nil {
		t.Fatal(err)
	}
	fake.Inject(vercelfake.Fault{Op: "readFile", Status: 429, RetryAfter: 3 * time.Second})
	fake.Inject(vercelfake.Fault{Op: "readFile", Status: 503})
	fake.Inject(vercelfake.Fault{Op: "readFile", Reset: true})
	before := fake.Calls("readFile")
	clock.Reset()
	got, err := sb.ReadFile(ctx, "f.txt")
	if err != nil || string(got) != "x" {
		t.Fatalf("ReadFile after transient faults: %q, %v", got, err)
	}
	if n := fake.Calls("readFile") - before; n != 4 {
		t.Errorf("readFile reached the fake %d times, want 4 (three faults, one success)", n)
	}
	// The retry after the reset may be net/http's own, without a wait.
	if waits := clock.Taken(); len(waits) < 2 || waits[0] != 3*time.Second {
		t.Errorf("waited %v before the retries; want the Retry-After of 3s, then a backoff", waits)
	}
}

// Retries end: a persistent 503 is UNAVAILABLE; a command, which is not
// idempotent, is sent once.
func TestRetriesBounded(t *testing.T) {
	p, fake := newProvider(t, vercelfake.Options{}, vercel.Options{Retries: 2})
	sb := create(t, p, computemw.CreateOptions{})
	fake.Inject(vercelfake.Fault{Op: "readFile", Status: 503, Times: 10})
	_, err := sb.ReadFile(ctxT(t, 10*time.Second), "x")
	providertest.WantCode(t, "ReadFile", err, computemw.CodeUnavailable)
	if n := fake.Calls("readFile"); n != 3 {
		t.Errorf("readFile reached the fake %d times, want 3 (1 + 2 retries)", n)
	}
	fake.Inject(vercelfake.Fault{Op: "runCommand", Reset: true})
	fake.Inject(vercelfake.Fault{Op: "runCommand", Status: 429})
	_, err = sb.Exec(ctxT(t, 10*time.Second), "echo once", computemw.ExecOptions{})
	providertest.WantCode(t, "Exec with a dropped connection", err, computemw.CodeUnavailable)
	_, err = sb.Exec(ctxT(t, 10*time.Second), "echo once", computemw.ExecOptions{})
	providertest.WantCode(t, "Exec rate limited", err, computemw.CodeRateLimited)
	if n := fake.Calls("runCommand"); n != 2 {
		t.Errorf("runCommand sent %d times for two executions; a command must not be retried", n)
	}
}

// A create that Vercel finishes after the client gave up is deleted.
func TestCreateSucceedingAfterGiveUpIsDeleted(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	p, fake := newProvider(t, vercelfake.Options{OnCall: func(op string) {
		if op == "createSandbox" {
			cancel() // the client gives up once its create has arrived
		}
	}}, vercel.Options{})
	fake.Inject(vercelfake.Fault{Op: "createSandbox", CreateAfterGiveUp: 100 * time.Millisecond})
	_, err := p.Create(ctx, computemw.CreateOptions{})
	providertest.WantCode(t, "Create given up", err, computemw.CodeClientClosed)
	if err := p.Close(ctxT(t, 20*time.Second)); err != nil {
		t.Fatal(err)
	}
	if fake.Made() != 1 {
		t.Errorf("the fake made %d sandboxes, want the late one", fake.Made())
	}
	if live := fake.Live(); len(live) != 0 {
		t.Errorf("the late sandbox was not deleted: %v", live)
	}
	if fake.Calls("deleteSandbox") == 0 {
		t.Error("the late sandbox was never deleted by name")
	}
}

// A sandbox that takes several polls to start is waited for; one that
// never starts in time, or whose create is cancelled meanwhile, is
// deleted.
func TestStartPolling(t *testing.T) {
	t.Run("several polls", func(t *testing.T) {
		p, fake := newProvider(t, vercelfake.Options{StartPolls: 4}, vercel.Options{})
		create(t, p, computemw.CreateOptions{})
		if n := fake.Calls("getSession"); n < 4 {
			t.Errorf("getSession polled %d times, want at least 4", n)
		}
	})
	t.Run("start timeout", func(t *testing.T) {
		p, fake := newProvider(t, vercelfake.Options{StartPolls: 1 << 30}, vercel.Options{StartTimeout: 150 * time.Millisecond})
		_, err := p.Create(ctxT(t, 10*time.Second), computemw.CreateOptions{})
		providertest.WantCode(t, "Create of a sandbox that never starts", err, computemw.CodeTimeout)
		if err := p.Close(ctxT(t, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
		if live := fake.Live(); len(live) != 0 {
			t.Errorf("left: %v", live)
		}
	})
	t.Run("cancelled while starting", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var once sync.Once
		p, fake := newProvider(t, vercelfake.Options{StartPolls: 1 << 30, OnCall: func(op string) {
			if op == "getSession" {
				once.Do(cancel) // the client gives up while the sandbox starts
			}
		}}, vercel.Options{})
		_, err := p.Create(ctx, computemw.CreateOptions{})
		providertest.WantCode(t, "cancelled Create", err, computemw.CodeClientClosed)
		if err := p.Close(ctxT(t, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
		if live := fake.Live(); len(live) != 0 {
			t.Errorf("left: %v", live)
		}
	})
}

// A download cut in the middle fails as UNAVAILABLE; a slow one streams;
// a stalled one ends when the client gives up.
func TestReadFileStreamFaults(t *testing.T) {
	p, fake := newProvider(t, vercelfake.Options{}, vercel.Options{Retries: -1})
	sb := create(t, p, computemw.CreateOptions{})
	ctx := ctxT(t, 20*time.Second)
	data := bytes.Repeat([]byte("0123456789"), 1000)
	if err := sb.WriteFile(ctx, "big.bin", data); err != nil {
		t.Fatal(err)
	}
	fake.Inject(vercelfake.Fault{Op: "readFile", ResetAfterBytes: 1000})
	_, err := sb.ReadFile(ctx, "big.bin")
	providertest.WantCode(t, "ReadFile reset mid-stream", err, computemw.CodeUnavailable)

	fake.Inject(vercelfake.Fault{Op: "readFile", ChunkDelay: 5 * time.Millisecond, ChunkSize: 4096})
	got, err := sb.ReadFile(ctx, "big.bin")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("slow ReadFile: %d bytes, %v", len(got), err)
	}

	fake.Inject(vercelfake.Fault{Op: "readFile", ChunkDelay: time.Hour, ChunkSize: 10})
	short, cancel := context.WithCancel(ctx)
	defer cancel()
	rc, _, err := sb.OpenFile(short, "big.bin")
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 10)
	if _, err := rc.Read(first); err != nil || string(first) != "0123456789" {
		t.Errorf("first chunk = %q, %v", first, err)
	}
	cancel() // the client gives up on the stalled stream
	var buf bytes.Buffer
	_, err = buf.ReadFrom(rc)
	rc.Close()
	if !errors.Is(err, context.Canceled) {
		t.Errorf("reading a stalled stream after giving up: %v", err)
	}
}

// A command's stream cut in the middle fails as UNAVAILABLE and the
// command, still running on Vercel's side, is killed; a slow stream is
// followed to its end.
func TestExecStreamFaults(t *testing.T) {
	p, fake := newProvider(t, vercelfake.Options{}, vercel.Options{})
	sb := create(t, p, computemw.CreateOptions{})
	ctx := ctxT(t, 30*time.Second)
	fake.Inject(vercelfake.Fault{Op: "runCommand", ResetAfterLines: 2})
	res, err := sb.Exec(ctx, "echo one; sleep 1000", computemw.ExecOptions{})
	providertest.WantCode(t, "Exec whose stream is cut", err, computemw.CodeUnavailable)
	if res == nil || res.Stdout != "one\n" {
		t.Errorf("partial result %+v, want the output before the cut", res)
	}
	if n := fake.Running(); n != 0 {
		t.Errorf("%d commands still running after the cut stream", n)
	}
	if fake.Calls("killCommand") != 1 {
		t.Errorf("killCommand called %d times, want 1", fake.Calls("killCommand"))
	}

	fake.Inject(vercelfake.Fault{Op: "runCommand", ChunkDelay: 5 * time.Millisecond})
	res, err = sb.Exec(ctx, "for i in 1 2 3 4 5; do echo $i; done; echo e >&2; exit 4", computemw.ExecOptions{})
	if err != nil || res.Stdout != "1\n2\n3\n4\n5\n" || res.Stderr != "e\n" || res.ExitCode != 4 {
		t.Errorf("slow stream: %+v, %v", res, err)
	}
}

// Output reaches ExecOptions.Stdout while the program runs: the program
// cannot finish before its first line has been streamed, since it waits
// for a file the test writes only once it has seen that line.
func TestExecStreams(t *testing.T) {
	p, _ := newProvider(t, vercelfake.Options{}, vercel.Options{})
	sb := create(t, p, computemw.CreateOptions{})
	ctx := ctxT(t, 30*time.Second)
	out := &signalWriter{want: "first\n", seen: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		select {
		case <-out.seen:
			done <- sb.WriteFile(ctx, "go", []byte("1"))
		case <-ctx.Done():
			done <- ctx.Err()
		}
	}()
	res, err := sb.Exec(ctx, `echo first; while [ ! -e go ]; do sleep 0.01; done; echo second`, computemw.ExecOptions{Stdout: out})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if res.Stdout != "first\nsecond\n" || out.String() != res.Stdout {
		t.Errorf("stdout %q, streamed %q", res.Stdout, out.String())
	}
}

// Cancelling an execution kills the remote command.
func TestExecCancelEndsCommand(t *testing.T) {
	p, fake := newProvider(t, vercelfake.Options{}, vercel.Options{})
	sb := create(t, p, computemw.CreateOptions{})
	ctx, cancel := context.WithCancel(t.Context())
	out := &signalWriter{want: "started\n", seen: make(chan struct{})}
	go func() {
		<-out.seen
		cancel()
	}()
	// The command cannot end by itself: only the cancel ends the call.
	_, err := sb.Exec(ctx, "echo started; sleep 1000", computemw.ExecOptions{Stdout: out})
	providertest.WantCode(t, "cancelled Exec", err, computemw.CodeClientClosed)
	if n := fake.Running(); n != 0 {
		t.Errorf("%d commands still running after the cancel", n)
	}
}

// A rejected token or a failing Vercel makes the health check fail as
// UNAVAILABLE, which the kit's /health reports as degraded.
func TestCheckHealthFailures(t *testing.T) {
	p, fake := newProvider(t, vercelfake.Options{}, vercel.Options{Retries: -1})
	fake.Inject(vercelfake.Fault{Op: "listSandboxes", Status: 401})
	providertest.WantCode(t, "CheckHealth with a rejected token", p.CheckHealth(ctxT(t, 10*time.Second)), computemw.CodeUnavailable)
	fake.Inject(vercelfake.Fault{Op: "listSandboxes", Status: 502})
	providertest.WantCode(t, "CheckHealth with a bad gateway", p.CheckHealth(ctxT(t, 10*time.Second)), computemw.CodeUnavailable)
	if err := p.CheckHealth(ctxT(t, 10*time.Second)); err != nil {
		t.Errorf("CheckHealth once the faults are over: %v", err)
	}
	if n := fake.Calls("listSandboxes"); n != 3 {
		t.Errorf("listSandboxes called %d times with retries disabled, want 3", n)
	}
}

// A stopped session is gone: its sandbox answers NOT_FOUND, and a second
// Destroy is no error.
func TestStoppedSessionIsGone(t *testing.T) {
	p, fake := newProvider(t, vercelfake.Options{}, vercel.Options{})
	sb := create(t, p, computemw.CreateOptions{})
	other, err := p.Attach(ctxT(t, 10*time.Second), sb.ID())
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.Destroy(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err = other.Exec(ctxT(t, 10*time.Second), "true", computemw.ExecOptions{})
	providertest.WantCode(t, "Exec on a stopped session", err, computemw.CodeNotFound)
	if err := other.Destroy(ctxT(t, 10*time.Second)); err != nil {
		t.Errorf("Destroy of a stopped session: %v", err)
	}
	if len(fake.Live()) != 0 {
		t.Errorf("live: %v", fake.Live())
	}
}

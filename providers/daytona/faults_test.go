package daytona_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/daytona"
	"github.com/computemw/kit/providers/daytona/daytonafake"
	"github.com/computemw/kit/providers/internal/providertest"
)

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func create(t *testing.T, p *daytona.Provider, opts computemw.CreateOptions) *daytona.Sandbox {
	t.Helper()
	sb, err := p.Create(ctxT(t, 20*time.Second), opts)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() {
		if err := sb.Destroy(context.Background()); err != nil {
			t.Errorf("Destroy: %v", err)
		}
	})
	return sb.(*daytona.Sandbox)
}

// Vendor statuses become the kit's classes; a create is never retried.
func TestCreateErrorClasses(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   computemw.Code
	}{
		{400, computemw.CodeBadRequest},
		{408, computemw.CodeTimeout},
		{429, computemw.CodeRateLimited},
		{500, computemw.CodeUnavailable},
		{503, computemw.CodeUnavailable},
		{507, computemw.CodeResource},
		{401, computemw.CodeUnavailable},
	} {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			// After a 5xx the outcome is unknown: the provider looks for
			// the sandbox to delete it for CleanupWindow.
			p, fake := newProvider(t, daytonafake.Options{}, daytona.Options{CleanupWindow: 300 * time.Millisecond})
			fake.Inject(daytonafake.Fault{Op: "createSandbox", Status: tc.status, RetryAfter: 7 * time.Second})
			_, err := p.Create(ctxT(t, 10*time.Second), computemw.CreateOptions{})
			e := providertest.WantCode(t, "Create", err, tc.code)
			if tc.status == 429 && e.RetryAfter != 7*time.Second {
				t.Errorf("RetryAfter = %s, want the vendor's 7s", e.RetryAfter)
			}
			if n := fake.Calls("createSandbox"); n != 1 {
				t.Errorf("createSandbox called %d times; a create must not be retried", n)
			}
		})
	}
}

// An idempotent call is retried after a 429 (honouring Retry-After), a 503
// and a dropped connection.
func TestIdempotentCallsRetried(t *testing.T) {
	p, fake := newProvider(t, daytonafake.Options{}, daytona.Options{})
	clock := &providertest.RetryClock{}
	daytona.SetRetryWait(p, clock.Wait)
	sb := create(t, p, computemw.CreateOptions{})
	ctx := ctxT(t, 20*time.Second)
	if err := sb.WriteFile(ctx, "f.txt", []byte("x")); err != nil {
		t.Fatal(err)
	}
	fake.Inject(daytonafake.Fault{Op: "GetFileInfo", Status: 429, RetryAfter: 3 * time.Second})
	fake.Inject(daytonafake.Fault{Op: "GetFileInfo", Status: 503})
	fake.Inject(daytonafake.Fault{Op: "GetFileInfo", Reset: true})
	before := fake.Calls("GetFileInfo")
	clock.Reset()
	fi, err := sb.Stat(ctx, "f.txt")
	if err != nil {
		t.Fatalf("Stat after transient faults: %v", err)
	}
	if fi.Size != 1 {
		t.Errorf("Stat = %+v", fi)
	}
	if n := fake.Calls("GetFileInfo") - before; n != 4 {
		t.Errorf("GetFileInfo reached the fake %d times, want 4 (three faults, one success)", n)
	}
	// The retry after the reset may be net/http's own, without a wait.
	if waits := clock.Taken(); len(waits) < 2 || waits[0] != 3*time.Second {
		t.Errorf("waited %v before the retries; want the Retry-After of 3s, then a backoff", waits)
	}
}

// Retries end: a persistent 503 is UNAVAILABLE, a non-idempotent call is
// sent once.
func TestRetriesBounded(t *testing.T) {
	p, fake := newProvider(t, daytonafake.Options{}, daytona.Options{Retries: 2})
	sb := create(t, p, computemw.CreateOptions{})
	fake.Inject(daytonafake.Fault{Op: "GetFileInfo", Status: 503, Times: 10})
	_, err := sb.Stat(ctxT(t, 10*time.Second), "x")
	providertest.WantCode(t, "Stat", err, computemw.CodeUnavailable)
	if n := fake.Calls("GetFileInfo"); n != 3 {
		t.Errorf("GetFileInfo reached the fake %d times, want 3 (1 + 2 retries)", n)
	}
	fake.Inject(daytonafake.Fault{Op: "SessionExecuteCommand", Reset: true})
	_, err = sb.Exec(ctxT(t, 10*time.Second), "echo once", computemw.ExecOptions{})
	providertest.WantCode(t, "Exec with a dropped connection", err, computemw.CodeUnavailable)
	if n := fake.Calls("SessionExecuteCommand"); n != 1 {
		t.Errorf("SessionExecuteCommand sent %d times; a command must not be retried", n)
	}
}

// A create that Daytona finishes after the client gave up is deleted.
func TestCreateSucceedingAfterGiveUpIsDeleted(t *testing.T) {
	p, fake := newProvider(t, daytonafake.Options{}, daytona.Options{})
	fake.Inject(daytonafake.Fault{Op: "createSandbox", CreateAfterGiveUp: 100 * time.Millisecond})
	_, err := p.Create(ctxT(t, 200*time.Millisecond), computemw.CreateOptions{})
	providertest.WantCode(t, "Create that times out", err, computemw.CodeTimeout)
	ctx := ctxT(t, 20*time.Second)
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if fake.Made() != 1 {
		t.Errorf("the fake made %d sandboxes, want the late one", fake.Made())
	}
	if live := fake.Live(); len(live) != 0 {
		t.Errorf("the late sandbox was not deleted: %v", live)
	}
}

// A sandbox that takes several polls to start is waited for; one that
// never starts in time is deleted.
func TestStartPolling(t *testing.T) {
	t.Run("several polls", func(t *testing.T) {
		p, fake := newProvider(t, daytonafake.Options{StartPolls: 4}, daytona.Options{})
		create(t, p, computemw.CreateOptions{})
		if n := fake.Calls("getSandbox"); n < 4 {
			t.Errorf("getSandbox polled %d times, want at least 4", n)
		}
	})
	t.Run("start timeout", func(t *testing.T) {
		p, fake := newProvider(t, daytonafake.Options{StartPolls: 1 << 30}, daytona.Options{StartTimeout: 150 * time.Millisecond})
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
		p, fake := newProvider(t, daytonafake.Options{StartPolls: 1 << 30, OnCall: func(op string) {
			if op == "getSandbox" {
				once.Do(cancel) // the client gives up while the sandbox starts
			}
		}}, daytona.Options{})
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

// A download cut in the middle fails as UNAVAILABLE; a slow one streams.
func TestDownloadFaults(t *testing.T) {
	p, fake := newProvider(t, daytonafake.Options{}, daytona.Options{})
	sb := create(t, p, computemw.CreateOptions{})
	ctx := ctxT(t, 20*time.Second)
	data := bytes.Repeat([]byte("0123456789"), 1000)
	if err := sb.WriteFile(ctx, "big.bin", data); err != nil {
		t.Fatal(err)
	}
	fake.Inject(daytonafake.Fault{Op: "DownloadFile", ResetAfterBytes: 1000})
	_, err := sb.ReadFile(ctx, "big.bin")
	providertest.WantCode(t, "ReadFile reset mid-stream", err, computemw.CodeUnavailable)

	fake.Inject(daytonafake.Fault{Op: "DownloadFile", ChunkDelay: 20 * time.Millisecond, ChunkSize: 4096})
	got, err := sb.ReadFile(ctx, "big.bin")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("slow ReadFile: %d bytes, %v", len(got), err)
	}

	fake.Inject(daytonafake.Fault{Op: "DownloadFile", ChunkDelay: time.Hour, ChunkSize: 10})
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

// Output reaches ExecOptions.Stdout while the program runs, and an
// interactive stdin is forwarded as it arrives.
func TestExecStreamingAndInteractiveStdin(t *testing.T) {
	p, _ := newProvider(t, daytonafake.Options{}, daytona.Options{})
	sb := create(t, p, computemw.CreateOptions{})
	inR, inW := ioPipe()
	t.Cleanup(func() { inW.Close() })
	out := &signalWriter{want: "first\n", seen: make(chan struct{})}
	go func() {
		select {
		case <-out.seen:
			inW.Write([]byte("go\n"))
		case <-t.Context().Done():
		}
	}()
	res, err := sb.Exec(ctxT(t, 20*time.Second), `echo first; read x; echo "second $x"`, computemw.ExecOptions{Stdin: inR, Stdout: out})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stdout != "first\nsecond go\n" || out.String() != res.Stdout {
		t.Errorf("stdout %q, streamed %q", res.Stdout, out.String())
	}
}

// Cancelling an execution ends the remote command.
func TestExecCancelEndsCommand(t *testing.T) {
	p, fake := newProvider(t, daytonafake.Options{}, daytona.Options{})
	sb := create(t, p, computemw.CreateOptions{})
	ctx, cancel := context.WithCancel(t.Context())
	out := &signalWriter{want: "started\n", seen: make(chan struct{})}
	go func() {
		<-out.seen
		cancel()
	}()
	// The command cannot end by itself: only the cancel ends the call.
	done := make(chan error, 1)
	go func() {
		_, err := sb.Exec(ctx, "echo started; sleep 1000", computemw.ExecOptions{Stdout: out})
		done <- err
	}()
	select {
	case err := <-done:
		providertest.WantCode(t, "cancelled Exec", err, computemw.CodeClientClosed)
	case <-time.After(time.Minute):
		t.Fatal("cancelled Exec still running after a minute")
	}
	if n := fake.Running(); n != 0 {
		t.Errorf("%d commands still running after the cancel", n)
	}
}

// A rejected key or a failing Daytona makes the health check fail as
// UNAVAILABLE, which the kit's /health reports as degraded.
func TestCheckHealthFailures(t *testing.T) {
	p, fake := newProvider(t, daytonafake.Options{}, daytona.Options{Retries: -1})
	fake.Inject(daytonafake.Fault{Op: "listSandboxes", Status: 401})
	providertest.WantCode(t, "CheckHealth with a rejected key", p.CheckHealth(ctxT(t, 10*time.Second)), computemw.CodeUnavailable)
	fake.Inject(daytonafake.Fault{Op: "listSandboxes", Status: 502})
	providertest.WantCode(t, "CheckHealth with a bad gateway", p.CheckHealth(ctxT(t, 10*time.Second)), computemw.CodeUnavailable)
	if err := p.CheckHealth(ctxT(t, 10*time.Second)); err != nil {
		t.Errorf("CheckHealth once the faults are over: %v", err)
	}
	if n := fake.Calls("listSandboxes"); n != 3 {
		t.Errorf("listSandboxes called %d times with retries disabled, want 3", n)
	}
}

package cloudflare_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/cloudflare"
	"github.com/computemw/kit/providers/cloudflare/cloudflarefake"
	"github.com/computemw/kit/providers/internal/providertest"
)

// An idempotent call answered 429 waits as Retry-After says and tries
// again; one asked to wait longer than RetryMax gives the caller the 429
// and its Retry-After at once; a call that is not idempotent (exec) is
// never retried.
func TestRateLimitRetryAfter(t *testing.T) {
	p, f := newProvider(t, func(o *cloudflare.Options) { o.RetryMax = 5 * time.Second })
	clock := &providertest.RetryClock{}
	cloudflare.SetRetryWait(p, clock.Wait)
	sb := create(t, p, computemw.CreateOptions{})
	ctx := testCtx(t)
	if err := sb.WriteFile(ctx, "f", []byte("x")); err != nil {
		t.Fatal(err)
	}
	before := f.Calls("readFile")
	f.Inject(cloudflarefake.Fault{Op: "readFile", Status: 429, RetryAfter: 2 * time.Second, Times: 2})
	data, err := sb.ReadFile(ctx, "f")
	if err != nil || string(data) != "x" {
		t.Fatalf("ReadFile after two 429s: %q, %v", data, err)
	}
	if got := f.Calls("readFile") - before; got != 3 {
		t.Errorf("%d reads reached the bridge, want 3", got)
	}
	if w := clock.Taken(); len(w) != 2 || w[0] != 2*time.Second || w[1] != 2*time.Second {
		t.Errorf("waits %v, want the Retry-After of 2s twice", w)
	}

	f.Inject(cloudflarefake.Fault{Op: "readFile", Status: 429, RetryAfter: time.Minute})
	_, err = sb.ReadFile(ctx, "f")
	if e := providertest.WantCode(t, "ReadFile asked to wait a minute", err, computemw.CodeRateLimited); e.RetryAfter != time.Minute {
		t.Errorf("RetryAfter %s, want 1m", e.RetryAfter)
	}

	before = f.Calls("execCommand")
	f.Inject(cloudflarefake.Fault{Op: "execCommand", Status: 429, RetryAfter: time.Second})
	_, err = sb.Exec(ctx, "echo once", computemw.ExecOptions{})
	if e := providertest.WantCode(t, "Exec answered 429", err, computemw.CodeRateLimited); e.RetryAfter != time.Second {
		t.Errorf("RetryAfter %s, want 1s", e.RetryAfter)
	}
	if got := f.Calls("execCommand") - before; got != 1 {
		t.Errorf("the exec reached the bridge %d times, want once", got)
	}
}

// The bridge's (and its edge's) error statuses map to the kit's classes.
func TestStatusClasses(t *testing.T) {
	p, f := newProvider(t, func(o *cloudflare.Options) { o.MaxRetries = -1 })
	sb := create(t, p, computemw.CreateOptions{})
	ctx := testCtx(t)
	for _, c := range []struct {
		status int
		code   computemw.Code
	}{
		{400, computemw.CodeBadRequest},
		{401, computemw.CodeUnavailable}, // the provider's key, not the caller's
		{403, computemw.CodeBadRequest},  // a path outside /workspace
		{404, computemw.CodeNotFound},
		{408, computemw.CodeTimeout},
		{413, computemw.CodePayloadTooLarge},
		{429, computemw.CodeRateLimited},
		{500, computemw.CodeUnavailable},
		{502, computemw.CodeUnavailable},
		{503, computemw.CodeUnavailable},
		{504, computemw.CodeTimeout},
		{507, computemw.CodeResource},
	} {
		f.Inject(cloudflarefake.Fault{Op: "readFile", Status: c.status})
		_, err := sb.ReadFile(ctx, "f")
		e := providertest.WantCode(t, "ReadFile answered HTTP "+strconv.Itoa(c.status), err, c.code)
		if strings.Contains(e.Error(), cloudflarefake.APIKey) {
			t.Errorf("%d: the error names the API key", c.status)
		}
	}
}

// Server errors of idempotent calls are retried with a growing backoff, up
// to MaxRetries; then the caller gets UNAVAILABLE.
func TestServerErrorsRetried(t *testing.T) {
	p, f := newProvider(t, func(o *cloudflare.Options) {
		o.MaxRetries = 2
		o.RetryBase = 100 * time.Millisecond
		o.RetryMax = time.Second
	})
	clock := &providertest.RetryClock{}
	cloudflare.SetRetryWait(p, clock.Wait)
	sb := create(t, p, computemw.CreateOptions{})
	ctx := testCtx(t)
	before := f.Calls("isSandboxRunning")
	f.Inject(cloudflarefake.Fault{Op: "isSandboxRunning", Status: 503, Times: 3})
	_, err := sb.Running(ctx)
	providertest.WantCode(t, "Running after three 503s", err, computemw.CodeUnavailable)
	if got := f.Calls("isSandboxRunning") - before; got != 3 {
		t.Errorf("%d calls, want 1 + 2 retries", got)
	}
	if w := clock.Taken(); len(w) != 2 || w[0] != 100*time.Millisecond || w[1] != 200*time.Millisecond {
		t.Errorf("waits %v, want 100ms then 200ms", w)
	}
	f.Inject(cloudflarefake.Fault{Op: "isSandboxRunning", Reset: true})
	if running, err := sb.Running(ctx); err != nil || !running {
		t.Errorf("Running after one reset: %v, %v", running, err)
	}
}

// A stream cut in the middle gives the output received so far with an
// UNAVAILABLE error; a slow stream reaches the caller's writer chunk by
// chunk and whole.
func TestExecStreamFaults(t *testing.T) {
	p, f := newProvider(t, nil)
	sb := create(t, p, computemw.CreateOptions{})
	ctx := testCtx(t)
	f.Inject(cloudflarefake.Fault{Op: "execCommand", ResetAfterEvents: 1})
	res, err := sb.Exec(ctx, "echo first; sleep 0.2; echo second", computemw.ExecOptions{Timeout: 10 * time.Second})
	providertest.WantCode(t, "Exec whose stream is reset", err, computemw.CodeUnavailable)
	if res == nil || res.Stdout != "first\n" {
		t.Errorf("partial result %+v, want the first line", res)
	}

	f.Inject(cloudflarefake.Fault{Op: "execCommand", EventDelay: time.Millisecond, EventBytes: 3})
	var streamed lockedBuffer
	res, err = sb.Exec(ctx, "printf 'hello, slow world'; exit 4", computemw.ExecOptions{Stdout: &streamed})
	if err != nil || res.ExitCode != 4 || res.Stdout != "hello, slow world" {
		t.Fatalf("slow Exec: %+v, %v", res, err)
	}
	if streamed.String() != "hello, slow world" || streamed.writes() < 5 {
		t.Errorf("streamed %q in %d writes, want it whole in chunks of 3", streamed.String(), streamed.writes())
	}

	// An answer before the stream (the bridge lost the sandbox) is not retried.
	f.Inject(cloudflarefake.Fault{Op: "execCommand", Status: 502})
	_, err = sb.Exec(ctx, "true", computemw.ExecOptions{})
	providertest.WantCode(t, "Exec answered 502", err, computemw.CodeUnavailable)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
	n  int
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) writes() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// A create whose caller gives up while the bridge starts the container
// returns at once; the container the bridge starts after all is destroyed.
// A create whose ID comes after its caller gave up is destroyed too (the
// ID alone started nothing). Neither leaves anything on the fake's books.
func TestCreateAbandoned(t *testing.T) {
	for _, op := range []string{"isSandboxRunning", "createSandbox"} {
		t.Run(op, func(t *testing.T) {
			p, f := newProvider(t, nil)
			hold := make(chan struct{})
			ctx, cancel := context.WithCancel(t.Context())
			f.Inject(cloudflarefake.Fault{Op: op, Hold: hold, OnHold: cancel})
			sb, err := p.Create(ctx, computemw.CreateOptions{})
			if sb != nil || !errors.Is(err, context.Canceled) {
				t.Fatalf("Create: %v, %v; want context.Canceled", sb, err)
			}
			close(hold) // the bridge goes on and answers into nothing
			cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer ccancel()
			if err := p.Close(cctx); err != nil { // waits for the background create
				t.Fatal(err)
			}
			if live := f.Live(); len(live) != 0 {
				t.Errorf("left running: %v", live)
			}
			if n := f.Calls("deleteSandbox"); n != 1 {
				t.Errorf("%d destroys, want 1", n)
			}
		})
	}
}

// A create whose answer is lost leaves nothing: the bridge's create only
// hands out an ID, and a failed start is destroyed.
func TestCreateFailures(t *testing.T) {
	p, f := newProvider(t, nil)
	ctx := testCtx(t)
	f.Inject(cloudflarefake.Fault{Op: "createSandbox", Reset: true})
	_, err := p.Create(ctx, computemw.CreateOptions{})
	providertest.WantCode(t, "Create reset", err, computemw.CodeUnavailable)
	if n := f.Calls("createSandbox"); n != 1 {
		t.Errorf("create sent %d times, want once (never retried)", n)
	}
	f.Inject(cloudflarefake.Fault{Op: "isSandboxRunning", Status: 503, Times: 10})
	_, err = p.Create(ctx, computemw.CreateOptions{})
	providertest.WantCode(t, "Create without capacity", err, computemw.CodeUnavailable)
	if live := f.Live(); len(live) != 0 {
		t.Errorf("left running after a failed start: %v", live)
	}
	_, err = p.Create(ctx, computemw.CreateOptions{Resources: computemw.Resources{MemoryMB: 512}})
	providertest.WantCode(t, "Create with a memory cap", err, computemw.CodeExecution)
	_, err = p.Create(ctx, computemw.CreateOptions{Template: "ubuntu:24.04"})
	providertest.WantCode(t, "Create with an image", err, computemw.CodeExecution)
}

// The API key appears in no error and no log line, whatever fails.
func TestCredentialsNeverShown(t *testing.T) {
	var logs lockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p, f := newProvider(t, func(o *cloudflare.Options) { o.Logger = logger; o.MaxRetries = -1 })
	sb := create(t, p, computemw.CreateOptions{})
	ctx := testCtx(t)
	var errs []error
	for _, st := range []int{401, 403, 500} {
		f.Inject(cloudflarefake.Fault{Op: "execCommand", Status: st})
		_, err := sb.Exec(ctx, "true", computemw.ExecOptions{})
		errs = append(errs, err)
	}
	f.Inject(cloudflarefake.Fault{Op: "readFile", Reset: true})
	_, err := sb.ReadFile(ctx, "x")
	errs = append(errs, err)
	hold := make(chan struct{})
	cctx, cancel := context.WithCancel(ctx)
	f.Inject(cloudflarefake.Fault{Op: "isSandboxRunning", Hold: hold, OnHold: cancel})
	_, err = p.Create(cctx, computemw.CreateOptions{})
	errs = append(errs, err)
	close(hold)
	bad, err := cloudflare.New(cloudflare.Options{URL: "ftp://x", APIKey: cloudflarefake.APIKey})
	errs = append(errs, err)
	if bad != nil {
		t.Error("New accepted an ftp URL")
	}
	closeCtx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer ccancel()
	if err := p.Close(closeCtx); err != nil {
		t.Fatal(err)
	}
	for _, err := range errs {
		if err == nil {
			t.Fatal("a fault gave no error")
		}
		if strings.Contains(err.Error(), cloudflarefake.APIKey) || strings.Contains(computemw.AsError(err).Message, cloudflarefake.APIKey) {
			t.Errorf("the error %q names the API key", err)
		}
	}
	if !strings.Contains(logs.String(), "destroyed a sandbox") {
		t.Errorf("the late create's destroy was not logged: %q", logs.String())
	}
	if strings.Contains(logs.String(), cloudflarefake.APIKey) {
		t.Error("a log line names the API key")
	}
}

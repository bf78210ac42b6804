package modal_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/internal/providertest"
	"github.com/computemw/kit/providers/modal"
	"github.com/computemw/kit/providers/modal/modalfake"
)

// Modal's gRPC statuses on a create become the kit's classes; the
// provider sends the create once.
func TestCreateErrorClasses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault modalfake.Fault
		code  computemw.Code
	}{
		{"invalid", modalfake.Fault{Code: codes.InvalidArgument}, computemw.CodeBadRequest},
		{"throttled", modalfake.Fault{Code: codes.ResourceExhausted, RetryAfter: 7 * time.Second}, computemw.CodeRateLimited},
		{"no capacity", modalfake.Fault{Code: codes.ResourceExhausted}, computemw.CodeResource},
		{"deadline", modalfake.Fault{Code: codes.DeadlineExceeded, Times: 10}, computemw.CodeTimeout},
		{"unavailable", modalfake.Fault{Code: codes.Unavailable, Times: 10}, computemw.CodeUnavailable},
		{"credentials", modalfake.Fault{Code: codes.PermissionDenied}, computemw.CodeUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, fake := newProvider(t, modal.Options{CleanupWindow: 200 * time.Millisecond})
			tc.fault.Method = "SandboxCreateV2"
			fake.Inject(tc.fault)
			_, err := p.Create(ctxT(t, 30*time.Second), computemw.CreateOptions{})
			e := providertest.WantCode(t, "Create", err, tc.code)
			if tc.fault.RetryAfter > 0 && e.RetryAfter != tc.fault.RetryAfter {
				t.Errorf("RetryAfter = %s, want the vendor's %s", e.RetryAfter, tc.fault.RetryAfter)
			}
			if strings.Contains(err.Error(), fake.TokenSecret) || strings.Contains(e.Message, fake.TokenID) {
				t.Errorf("the error names a credential: %v", err)
			}
			if fake.Made() != 0 {
				t.Errorf("the fake made %d sandboxes", fake.Made())
			}
		})
	}
}

// A create broken by UNAVAILABLE is sent again by the SDK with the same
// idempotency key: Modal (and the fake) make one sandbox.
func TestCreateRetriedWithOneIdempotencyKey(t *testing.T) {
	p, fake := newProvider(t, modal.Options{})
	fake.Inject(modalfake.Fault{Method: "SandboxCreateV2", Code: codes.Unavailable})
	sb := create(t, p, computemw.CreateOptions{})
	if n := fake.Calls("SandboxCreateV2"); n != 2 {
		t.Errorf("SandboxCreateV2 reached the fake %d times, want 2 (a fault, then the retry)", n)
	}
	if fake.Made() != 1 || sb.ID() == "" {
		t.Errorf("made %d sandboxes, want 1", fake.Made())
	}
}

// A create that Modal finishes after the client gave up is terminated:
// the provider finds it by its create tag.
func TestCreateSucceedingAfterGiveUpIsTerminated(t *testing.T) {
	p, fake := newProvider(t, modal.Options{})
	fake.Inject(modalfake.Fault{Method: "SandboxCreateV2", CreateAfterGiveUp: true})
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err := p.Create(ctx, computemw.CreateOptions{})
	if err == nil {
		t.Fatal("Create succeeded past its deadline")
	}
	if err := p.Close(ctxT(t, 20*time.Second)); err != nil {
		t.Fatal(err)
	}
	if fake.Made() != 1 {
		t.Errorf("the fake made %d sandboxes, want the late one", fake.Made())
	}
	if live := fake.Live(); len(live) != 0 {
		t.Errorf("the late sandbox was not terminated: %v", live)
	}
}

// An idempotent call (here a listing) is retried after throttling,
// waiting the Retry-After Modal asks for, and after UNAVAILABLE; a
// throttling longer than MaxRetryWait is returned as 429.
func TestIdempotentCallsRetried(t *testing.T) {
	p, fake := newProvider(t, modal.Options{})
	clock := &providertest.RetryClock{}
	modal.SetRetryWait(p, clock.Wait)
	ctx := ctxT(t, 20*time.Second)
	create(t, p, computemw.CreateOptions{})
	fake.Inject(modalfake.Fault{Method: "SandboxListV2", Code: codes.ResourceExhausted, RetryAfter: 3 * time.Second})
	fake.Inject(modalfake.Fault{Method: "SandboxListV2", Code: codes.Unavailable, Times: 4}) // the SDK retries 3 times itself
	before := fake.Calls("SandboxListV2")
	ids, err := p.List(ctx, 0)
	if err != nil || len(ids) != 1 {
		t.Fatalf("List after transient faults: %v, %v", ids, err)
	}
	// 1 throttled, 4 UNAVAILABLE (the SDK's attempts), then a page with
	// the sandbox and the empty page that ends the listing.
	if n := fake.Calls("SandboxListV2") - before; n != 7 {
		t.Errorf("SandboxListV2 reached the fake %d times, want 7", n)
	}
	if w := clock.Taken(); len(w) != 2 || w[0] != 3*time.Second {
		t.Errorf("waited %v; want the Retry-After of 3s, then a backoff", w)
	}
	fake.Inject(modalfake.Fault{Method: "SandboxListV2", Code: codes.ResourceExhausted, RetryAfter: time.Hour})
	_, err = p.List(ctx, 0)
	if e := providertest.WantCode(t, "List throttled for an hour", err, computemw.CodeRateLimited); e.RetryAfter != time.Hour {
		t.Errorf("RetryAfter = %s", e.RetryAfter)
	}
}

// Output streams survive a reset in the middle (the SDK resumes at its
// offset) and slow chunks; nothing is lost or repeated.
func TestStreamResetAndSlow(t *testing.T) {
	p, fake := newProvider(t, modal.Options{})
	sb := create(t, p, computemw.CreateOptions{})
	ctx := ctxT(t, 30*time.Second)
	fake.Inject(modalfake.Fault{Method: "TaskExecStdioRead", ResetAfter: 5})
	res, err := sb.Exec(ctx, "printf 'abcdefghij'", computemw.ExecOptions{})
	if err != nil || res.Stdout != "abcdefghij" {
		t.Fatalf("after a reset mid-stream: %+v, %v", res, err)
	}
	fake.Inject(modalfake.Fault{Method: "TaskExecStdioRead", Slow: 20 * time.Millisecond, Times: 2})
	res, err = sb.Exec(ctx, "echo slow; echo also >&2", computemw.ExecOptions{})
	if err != nil || res.Stdout != "slow\n" || res.Stderr != "also\n" {
		t.Fatalf("slow streams: %+v, %v", res, err)
	}
}

// A stream that stays slow past the execution's timeout is TIMEOUT with
// the partial result.
func TestSlowStreamTimesOut(t *testing.T) {
	p, fake := newProvider(t, modal.Options{})
	sb := create(t, p, computemw.CreateOptions{})
	fake.Inject(modalfake.Fault{Method: "TaskExecStdioRead", Slow: time.Hour, Times: 2})
	res, err := sb.Exec(ctxT(t, 30*time.Second), "echo never", computemw.ExecOptions{Timeout: 200 * time.Millisecond})
	providertest.WantCode(t, "Exec with a stalled stream", err, computemw.CodeTimeout)
	if res == nil {
		t.Fatal("no partial result")
	}
}

// A command that is not found, and a terminated sandbox.
func TestExecErrors(t *testing.T) {
	p, fake := newProvider(t, modal.Options{})
	sb := create(t, p, computemw.CreateOptions{})
	ctx := ctxT(t, 30*time.Second)
	res, err := sb.Exec(ctx, "no-such-command-42", computemw.ExecOptions{})
	if err != nil || res.ExitCode != 127 {
		t.Errorf("unknown command: %+v, %v", res, err)
	}
	if err := p.Terminate(ctx, sb.ID()); err != nil {
		t.Fatal(err)
	}
	_, err = sb.Exec(ctx, "true", computemw.ExecOptions{})
	if err == nil {
		t.Error("Exec in a terminated sandbox succeeded")
	}
	if len(fake.Live()) != 0 {
		t.Errorf("live: %v", fake.Live())
	}
}

// A create that fails before its request goes out (here the image) looks
// for no sandbox to terminate: none can exist.
func TestCreateFailingBeforeSendReapsNothing(t *testing.T) {
	p, fake := newProvider(t, modal.Options{})
	fake.Inject(modalfake.Fault{Method: "ImageGetOrCreate", Code: codes.InvalidArgument})
	_, err := p.Create(ctxT(t, 20*time.Second), computemw.CreateOptions{})
	providertest.WantCode(t, "Create with a refused image", err, computemw.CodeBadRequest)
	if err := p.Close(ctxT(t, 20*time.Second)); err != nil {
		t.Fatal(err)
	}
	if n := fake.Calls("SandboxCreateV2") + fake.Calls("SandboxListV2"); n != 0 {
		t.Errorf("%d create or list calls for a create never sent", n)
	}
}

package computelambda_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/e2b"
	"github.com/computemw/kit/providers/e2b/e2bfake"
	computelambda "github.com/computemw/kit/transports/computelambda"
)

// TestNothingOutlivesAnInvocation serves many invocations of each event
// kind on a kit over E2B (its contract fake) built as a function's kit is
// (Config.DestroyBeforeReturn): the moment each invocation's answer is
// produced, no sandbox is alive, neither in the kit nor at the vendor. A
// function is frozen then, so a sandbox alive at that moment outlives it.
func TestNothingOutlivesAnInvocation(t *testing.T) {
	fake := e2bfake.New(t)
	prov, err := e2b.New(fake.Options())
	if err != nil {
		t.Fatal(err)
	}
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{prov}, DestroyBeforeReturn: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kit.Close(context.Background()) })
	h := handlerOver(kit)
	const perKind = 7
	alive, answered := 0, 0
	// Each a request sandbox of its own: an execute, an exec, a file write.
	requests := []struct{ path, body, field, want string }{
		{"/api/execute", `{"language":"bash","code":"echo once"}`, "output", "once\n"},
		{"/api/exec", `{"command":"echo once"}`, "output", "once\n"},
		{"/api/files", `{"action":"write","path":"a.txt","content":"x"}`, "success", "true"},
	}
	for _, fx := range fixtures {
		for i := range perKind {
			req := requests[i%len(requests)]
			ev := event(t, fx.file)
			setRequest(ev, req.path, req.body)
			r := invoke(t, h, ev)
			// The answer exists now: count before anything else runs.
			kitLive, vendorLive := kit.Stats().Live, len(fake.Live())
			if r.StatusCode != 200 || fmt.Sprint(r.json(t)[req.field]) != req.want {
				t.Fatalf("%s %s: %d %s", fx.name, req.path, r.StatusCode, r.Body)
			}
			answered++
			if kitLive != 0 || vendorLive != 0 {
				alive++
			}
		}
	}
	if alive != 0 {
		t.Errorf("%d of %d invocations answered with a sandbox alive", alive, answered)
	}
	if n := fake.Created(); n != answered {
		t.Errorf("the vendor made %d sandboxes for %d invocations", n, answered)
	}
}

// TestScheduled: an EventBridge scheduled event runs Options.Scheduled
// (where a function with sessions reaps them) and reports its error;
// without Scheduled it is an unsupported event.
func TestScheduled(t *testing.T) {
	kit, _ := fakeKit(t)
	payload := []byte(`{"version":"0","id":"53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa","detail-type":"Scheduled Event",` +
		`"source":"aws.events","account":"123456789012","time":"2026-12-07T03:00:00Z","region":"us-east-1",` +
		`"resources":["arn:aws:events:us-east-1:123456789012:rule/reap"],"detail":{}}`)
	if _, err := handlerOver(kit).Invoke(context.Background(), payload); !errors.Is(err, computelambda.ErrUnsupportedEvent) {
		t.Errorf("without Scheduled: %v, want ErrUnsupportedEvent", err)
	}
	calls := 0
	failing := errors.New("store down")
	var fail bool
	h := computelambda.New(nil, computelambda.Options{Scheduled: func(ctx context.Context) error {
		calls++
		if fail {
			return failing
		}
		_, err := kit.Sessions().Reap(ctx)
		return err
	}})
	if _, err := h.Invoke(context.Background(), payload); err != nil || calls != 1 {
		t.Errorf("scheduled: %v, %d calls", err, calls)
	}
	fail = true
	if _, err := h.Invoke(context.Background(), payload); !errors.Is(err, failing) || calls != 2 {
		t.Errorf("failing scheduled: %v, %d calls", err, calls)
	}
}

package oteltrace_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/oteltrace"
	"github.com/computemw/kit/providers/modal"
	"github.com/computemw/kit/providers/modal/modalfake"
)

// On Modal, the SDK's control-plane calls (gRPC, through the interceptors
// the SDK takes) are client spans under the kit's create and destroy.
func TestModalCallsAreChildSpans(t *testing.T) {
	rec := newRecorder(t)
	fake := modalfake.New(t, modalfake.Options{})
	p, err := modal.New(modal.Options{TokenID: fake.TokenID, TokenSecret: fake.TokenSecret, ServerURL: fake.URL,
		CleanupWindow: 5 * time.Second, RetryBase: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{p}, Tracer: oteltrace.New(rec, oteltrace.Options{}),
		DestroyBeforeReturn: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := kit.Close(ctx); err != nil {
			t.Errorf("kit.Close: %v", err)
		}
		if live := fake.Live(); len(live) != 0 {
			t.Errorf("sandboxes left on the fake's books: %v", live)
		}
	})
	ctx, app := appSpan(t, rec)
	res, err := kit.Execute(ctx, computemw.Run{Command: "echo traced"})
	if err != nil || res.Stdout != "traced\n" {
		t.Fatalf("Execute: %v %+v", err, res)
	}
	spans := rec.spans()
	for _, name := range []string{"computemw.create", "computemw.execution", "computemw.destroy"} {
		step := one(t, spans, name)
		if step.Parent.SpanID() != app.SpanContext().SpanID() {
			t.Errorf("%s: parent %s, want the application's span", name, step.Parent.SpanID())
		}
		var calls []string
		for _, c := range childrenOf(spans, step.SpanContext) {
			if c.SpanKind != trace.SpanKindClient || attrs(c)["rpc.system"] != "grpc" {
				t.Errorf("%s: child %s of kind %v, %v", name, c.Name, c.SpanKind, attrs(c))
			}
			calls = append(calls, c.Name)
		}
		if len(calls) == 0 && name != "computemw.execution" {
			t.Errorf("%s has no gRPC call under it; spans %v", name, names(spans))
		}
		t.Logf("%s: %v", name, calls)
	}
}

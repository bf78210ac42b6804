package oteltrace_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/oteltrace"
	"github.com/computemw/kit/providers/e2b"
	"github.com/computemw/kit/providers/e2b/e2bfake"
)

// e2bKit is a kit over an E2B provider on a contract fake of E2B; at
// cleanup the kit is closed and the fake holds no sandbox.
func e2bKit(t *testing.T, tracer computemw.Tracer) (*computemw.Kit, *e2bfake.Fake) {
	t.Helper()
	f := e2bfake.New(t)
	opts := f.Options()
	p, err := e2b.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{p}, Tracer: tracer,
		DestroyBeforeReturn: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := kit.Close(ctx); err != nil {
			t.Errorf("kit.Close: %v", err)
		}
		f.AssertNoneLive(t)
		if err := f.WaitNoProcesses(ctx); err != nil {
			t.Error(err)
		}
		opts.HTTPClient.CloseIdleConnections()
	})
	return kit, f
}

// appSpan is the span an application's own tracing middleware puts in
// the request's context before the kit sees it.
func appSpan(t *testing.T, tp trace.TracerProvider) (context.Context, trace.Span) {
	ctx, span := tp.Tracer("app").Start(t.Context(), "POST /run", trace.WithSpanKind(trace.SpanKindServer))
	t.Cleanup(func() { span.End() })
	return ctx, span
}

// On E2B, the provider's HTTP calls (the control plane's create and
// delete, envd's process RPC) are client spans under the kit's create,
// execution and destroy; the steps are under the application's own span,
// which wins over a traceparent header of another trace.
func TestE2BCallsAreChildSpans(t *testing.T) {
	rec := newRecorder(t)
	kit, f := e2bKit(t, oteltrace.New(rec, oteltrace.Options{}))
	ctx, app := appSpan(t, rec)
	ctx, err := kit.Admit(ctx, computemw.OpExec, &computemw.Request{Header: http.Header{"Traceparent": {traceparent}}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := kit.Execute(ctx, computemw.Run{Command: "echo traced"})
	if err != nil || res.Stdout != "traced\n" {
		t.Fatalf("Execute: %v %+v", err, res)
	}

	spans := rec.spans()
	for _, name := range []string{"computemw.admission", "computemw.policies", "computemw.create", "computemw.execution", "computemw.destroy"} {
		s := one(t, spans, name)
		if s.Parent.SpanID() != app.SpanContext().SpanID() || s.Parent.TraceID() != app.SpanContext().TraceID() {
			t.Errorf("%s: parent %s, want the application's span", name, s.Parent.SpanID())
		}
		if a := attrs(s); a["computemw.provider"] != "e2b" && name != "computemw.admission" {
			t.Errorf("%s: attributes %v", name, a)
		}
	}
	for _, name := range []string{"computemw.create", "computemw.execution", "computemw.destroy"} {
		step := one(t, spans, name)
		var calls []string
		for _, c := range childrenOf(spans, step.SpanContext) {
			if c.SpanKind != trace.SpanKindClient {
				t.Errorf("%s: child %s of kind %v", name, c.Name, c.SpanKind)
			}
			a := attrs(c)
			calls = append(calls, a["http.request.method"]+" "+a["url.full"])
			for k, v := range a {
				if strings.Contains(v, f.APIKey()) {
					t.Errorf("%s: attribute %s of %s holds the API key", name, k, c.Name)
				}
			}
		}
		if len(calls) == 0 {
			t.Errorf("%s has no HTTP call under it; spans %v", name, names(spans))
		}
		t.Logf("%s: %v", name, calls)
	}
}

// Without a Tracer, a request already traced by the application makes
// no span of the kit's and none for the provider's HTTP calls.
func TestE2BNoTracerNoSpans(t *testing.T) {
	rec := newRecorder(t)
	kit, _ := e2bKit(t, nil)
	ctx, _ := appSpan(t, rec)
	res, err := kit.Execute(ctx, computemw.Run{Command: "echo untraced"})
	if err != nil || res.Stdout != "untraced\n" {
		t.Fatalf("Execute: %v %+v", err, res)
	}
	if spans := rec.spans(); len(spans) != 0 {
		t.Errorf("spans without a tracer: %v", names(spans))
	}
}

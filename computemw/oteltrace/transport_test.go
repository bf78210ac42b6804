package oteltrace_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/oteltrace"
)

// stub answers every request with the same response, allocating nothing.
type stub struct{ resp *http.Response }

func (s stub) RoundTrip(*http.Request) (*http.Response, error) { return s.resp, nil }

func newStub() stub {
	return stub{resp: &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("")), Header: http.Header{}}}
}

// Outside a traced step the transport costs nothing: not one allocation
// more than its base, even when the request's context carries a span of
// the application's, and no span is made.
func TestTransportUntracedCostsNothing(t *testing.T) {
	rec := newRecorder(t)
	base := newStub()
	tr := oteltrace.Transport(base)
	appCtx, span := rec.Tracer("app").Start(context.Background(), "app")
	defer span.End()
	for _, ctx := range []context.Context{context.Background(), appCtx} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://vendor.invalid/x", nil)
		want := testing.AllocsPerRun(100, func() { _, _ = base.RoundTrip(req) })
		got := testing.AllocsPerRun(100, func() { _, _ = tr.RoundTrip(req) })
		if got != want {
			t.Errorf("%v allocations per request, want %v (the base's)", got, want)
		}
	}
	if spans := rec.spans(); len(spans) != 0 {
		t.Errorf("spans outside a step: %v", names(spans))
	}
}

// In a step, a request is a client span under the step's span, made by
// the step's TracerProvider.
func TestTransportTracedInStep(t *testing.T) {
	rec := newRecorder(t)
	ctx, end := oteltrace.New(rec, oteltrace.Options{}).Start(context.Background(), &computemw.TraceStep{Name: "execution", Op: computemw.OpExec, Provider: "vendor"})
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://vendor.invalid/x", nil)
	resp, err := oteltrace.Transport(newStub()).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	end(nil)
	spans := rec.spans()
	step := one(t, spans, "computemw.execution")
	calls := childrenOf(spans, step.SpanContext)
	if len(calls) != 1 || calls[0].SpanKind != trace.SpanKindClient || attrs(calls[0])["http.request.method"] != "GET" {
		t.Fatalf("spans %v; under the step %v", names(spans), calls)
	}
}

// BenchmarkTransport measures a request through the transport outside a
// traced step, beside its base alone.
func BenchmarkTransport(b *testing.B) {
	base := newStub()
	req, _ := http.NewRequest(http.MethodGet, "http://vendor.invalid/x", nil)
	for _, bc := range []struct {
		name string
		rt   http.RoundTripper
	}{{"base", base}, {"untraced", oteltrace.Transport(base)}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = bc.rt.RoundTrip(req)
			}
		})
	}
}

package tracegrpc_test

import (
	"context"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a TracerProvider whose spans are kept in memory.
type recorder struct {
	*sdktrace.TracerProvider
	exp *tracetest.InMemoryExporter
	// ended receives the name of each span as it ends.
	ended chan string
}

func newRecorder(t *testing.T) *recorder {
	exp := tracetest.NewInMemoryExporter()
	ended := make(chan string, 1024)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithSpanProcessor(endNotifier(ended)))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return &recorder{TracerProvider: tp, exp: exp, ended: ended}
}

func (r *recorder) spans() tracetest.SpanStubs { return r.exp.GetSpans() }

// endNotifier is a span processor that sends the name of each span that
// ends.
type endNotifier chan string

func (n endNotifier) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (n endNotifier) OnEnd(s sdktrace.ReadOnlySpan) {
	select {
	case n <- s.Name():
	default:
	}
}
func (endNotifier) Shutdown(context.Context) error   { return nil }
func (endNotifier) ForceFlush(context.Context) error { return nil }

// waitEnded waits (at most 30 s) for a span named name to end.
func (r *recorder) waitEnded(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for {
		select {
		case n := <-r.ended:
			if n == name {
				return
			}
		case <-ctx.Done():
			t.Fatalf("%s never ended", name)
		}
	}
}

func named(spans tracetest.SpanStubs, name string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

func names(spans tracetest.SpanStubs) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.Name
	}
	return out
}

func attrs(s tracetest.SpanStub) map[string]string {
	out := make(map[string]string, len(s.Attributes))
	for _, kv := range s.Attributes {
		out[string(kv.Key)] = kv.Value.Emit()
	}
	return out
}

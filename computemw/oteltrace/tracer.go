package oteltrace

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/computemw/kit/computemw"
)

// ScopeName is the instrumentation scope of the kit's spans.
const ScopeName = "github.com/computemw/kit/computemw/oteltrace"

// The attributes of the kit's spans.
const (
	KeyOp        = attribute.Key("computemw.op")
	KeyProvider  = attribute.Key("computemw.provider")
	KeyLanguage  = attribute.Key("computemw.language")
	KeyPrincipal = attribute.Key("computemw.principal")
	KeySandboxID = attribute.Key("computemw.sandbox.id")
	KeyExitCode  = attribute.Key("computemw.exit_code")
	KeyErrorCode = attribute.Key("computemw.error.code")
	keyErrorType = attribute.Key("error.type")
)

// Options configures a [Tracer].
type Options struct {
	// Propagator reads the trace a caller sent in its request's headers
	// when the request's context has none; default the W3C Trace
	// Context (traceparent, tracestate).
	Propagator propagation.TextMapPropagator
}

// Tracer is the kit's [computemw.Tracer] over an OpenTelemetry
// TracerProvider.
type Tracer struct {
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
}

// New returns a Tracer making its spans with tp.
func New(tp trace.TracerProvider, opts Options) *Tracer {
	if opts.Propagator == nil {
		opts.Propagator = propagation.TraceContext{}
	}
	return &Tracer{tracer: tp.Tracer(ScopeName), prop: opts.Propagator}
}

// Continue implements [computemw.Tracer]: ctx in the trace that h carries,
// unless ctx already has a span (an application's own middleware made
// one).
func (t *Tracer) Continue(ctx context.Context, h computemw.Header) context.Context {
	if h == nil || trace.SpanContextFromContext(ctx).IsValid() {
		return ctx
	}
	return t.prop.Extract(ctx, headerCarrier{h})
}

// Start implements [computemw.Tracer]: a span named computemw.<step>, whose
// context is marked so that [Transport] traces the provider's calls made
// with it.
func (t *Tracer) Start(ctx context.Context, step *computemw.TraceStep) (context.Context, func(error)) {
	attrs := make([]attribute.KeyValue, 0, 6)
	attrs = append(attrs, KeyOp.String(string(step.Op)))
	attrs = appendNonEmpty(attrs, KeyProvider, step.Provider)
	attrs = appendNonEmpty(attrs, KeyLanguage, step.Language)
	attrs = appendNonEmpty(attrs, KeyPrincipal, step.Principal)
	attrs = appendNonEmpty(attrs, KeySandboxID, step.SandboxID)
	ctx, span := t.tracer.Start(ctx, "computemw."+step.Name, trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...))
	if !span.IsRecording() {
		return withMark(ctx), func(error) { span.End() }
	}
	principal, sandbox := step.Principal, step.SandboxID
	return withMark(ctx), func(err error) {
		if step.Principal != principal {
			span.SetAttributes(KeyPrincipal.String(step.Principal))
		}
		if step.SandboxID != sandbox {
			span.SetAttributes(KeySandboxID.String(step.SandboxID))
		}
		if step.Exited {
			span.SetAttributes(KeyExitCode.Int(step.ExitCode))
		}
		if err != nil {
			e := computemw.AsError(err)
			span.SetAttributes(KeyErrorCode.String(string(e.Code)), keyErrorType.String(string(e.Code)))
			span.SetStatus(codes.Error, e.Message)
		}
		span.End()
	}
}

func appendNonEmpty(attrs []attribute.KeyValue, k attribute.Key, v string) []attribute.KeyValue {
	if v == "" {
		return attrs
	}
	return append(attrs, k.String(v))
}

// headerCarrier reads a request's headers for a propagator.
type headerCarrier struct{ h computemw.Header }

func (c headerCarrier) Get(key string) string { return c.h.Get(key) }
func (headerCarrier) Set(string, string)      {}
func (headerCarrier) Keys() []string          { return nil }

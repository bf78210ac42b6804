package oteltrace

import (
	"context"
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
)

// markKey marks a context of a step the kit traces with a [Tracer].
type markKey struct{}

func withMark(ctx context.Context) context.Context { return context.WithValue(ctx, markKey{}, true) }

// InStep reports whether ctx is the context of a step a [Tracer] traces
// (or one derived from it): a provider's call made with it is traced as
// a span of the step's. [Transport] and the tracegrpc package's
// interceptors ask it.
func InStep(ctx context.Context) bool { return ctx.Value(markKey{}) != nil }

// Transport returns base traced: a request made with the context of a
// step the kit traces with a [Tracer] (a provider's call in create,
// execution or destroy) is an HTTP client span under that step's span,
// made by otelhttp with the step's TracerProvider; any other request goes
// to base as it is, at no cost. The remote providers' clients use it.
func Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{base: base, traced: otelhttp.NewTransport(base)}
}

type transport struct {
	base   http.RoundTripper
	traced http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if InStep(req.Context()) {
		return t.traced.RoundTrip(req)
	}
	return t.base.RoundTrip(req)
}

// CloseIdleConnections closes the idle connections of base, as
// http.Client.CloseIdleConnections expects.
func (t *transport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

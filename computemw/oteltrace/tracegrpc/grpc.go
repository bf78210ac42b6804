// Package tracegrpc makes the gRPC calls a provider makes in a step the kit
// traces (computemw.Config.Tracer from the oteltrace package) client spans
// under that step, through interceptors: for a client that takes
// interceptors but no dial option (Modal's SDK), where otelgrpc's stats
// handler cannot be installed. Any other call goes on as it is, at no
// cost.
package tracegrpc

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/computemw/kit/computemw/oteltrace"
)

// UnaryClientInterceptor returns a gRPC interceptor that makes a call made
// with the context of a step the kit traces a client span under that
// step's span, made by the step's TracerProvider; any other call goes on
// as it is, at no cost.
func UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if !oteltrace.InStep(ctx) {
			return invoker(ctx, method, req, reply, cc, opts...)
		}
		ctx, span := startRPC(ctx, method)
		err := invoker(ctx, method, req, reply, cc, opts...)
		endRPC(span, err)
		return err
	}
}

// StreamClientInterceptor is [UnaryClientInterceptor] for streams: the
// span ends when the stream does (its end of input, an error, or a
// response of a stream with a single one).
func StreamClientInterceptor() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		if !oteltrace.InStep(ctx) {
			return streamer(ctx, desc, cc, method, opts...)
		}
		ctx, span := startRPC(ctx, method)
		cs, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			endRPC(span, err)
			return nil, err
		}
		ts := &tracedStream{ClientStream: cs, span: span, single: !desc.ServerStreams}
		// A stream its caller abandons ends with its context.
		ts.stop = context.AfterFunc(ctx, func() { ts.end(status.FromContextError(ctx.Err()).Err()) })
		return ts, nil
	}
}

// startRPC starts the client span of a call to method ("/pkg.Service/Method").
func startRPC(ctx context.Context, method string) (context.Context, trace.Span) {
	name := strings.TrimPrefix(method, "/")
	service, m, _ := strings.Cut(name, "/")
	tracer := trace.SpanFromContext(ctx).TracerProvider().Tracer(oteltrace.ScopeName)
	return tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String("rpc.system", "grpc"), attribute.String("rpc.service", service), attribute.String("rpc.method", m)))
}

// endRPC ends a call's span with its outcome.
func endRPC(span trace.Span, err error) {
	s, _ := status.FromError(err)
	span.SetAttributes(attribute.Int("rpc.grpc.status_code", int(s.Code())))
	if err != nil {
		span.SetStatus(codes.Error, s.Code().String())
	}
	span.End()
}

// tracedStream ends its span once, when the stream ends.
type tracedStream struct {
	grpc.ClientStream
	span   trace.Span
	single bool // one response: the stream ends with it
	stop   func() bool
	once   sync.Once
}

func (s *tracedStream) end(err error) {
	s.once.Do(func() {
		if s.stop != nil {
			s.stop()
		}
		endRPC(s.span, err)
	})
}

// RecvMsg implements grpc.ClientStream.
func (s *tracedStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	switch {
	case errors.Is(err, io.EOF):
		s.end(nil)
	case err != nil:
		s.end(err)
	case s.single:
		s.end(nil)
	}
	return err
}

// SendMsg implements grpc.ClientStream.
func (s *tracedStream) SendMsg(m any) error {
	err := s.ClientStream.SendMsg(m)
	if err != nil && !errors.Is(err, io.EOF) {
		s.end(err)
	}
	return err
}

// Header implements grpc.ClientStream.
func (s *tracedStream) Header() (metadata.MD, error) {
	md, err := s.ClientStream.Header()
	if err != nil {
		s.end(err)
	}
	return md, err
}

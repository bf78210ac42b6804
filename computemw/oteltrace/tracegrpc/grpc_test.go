package tracegrpc_test

import (
	"context"
	"io"
	"testing"

	"google.golang.org/grpc"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/oteltrace"
	"github.com/computemw/kit/computemw/oteltrace/tracegrpc"
)

// fakeStream answers n messages, then the end of the stream.
type fakeStream struct {
	grpc.ClientStream
	n int
}

func (s *fakeStream) RecvMsg(any) error {
	if s.n == 0 {
		return io.EOF
	}
	s.n--
	return nil
}

// A stream's span, in a step, ends when the stream does, or when its
// context does if it is abandoned; outside a step no span is made.
func TestStreamInterceptor(t *testing.T) {
	rec := newRecorder(t)
	ic := tracegrpc.StreamClientInterceptor()
	desc := &grpc.StreamDesc{ServerStreams: true}
	open := func(ctx context.Context) grpc.ClientStream {
		cs, err := ic(ctx, desc, nil, "/modal.client.ModalClient/Watch", func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
			return &fakeStream{n: 2}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}

	_ = open(context.Background()).RecvMsg(nil)
	if spans := rec.spans(); len(spans) != 0 {
		t.Fatalf("spans outside a step: %v", names(spans))
	}

	ctx, end := oteltrace.New(rec, oteltrace.Options{}).Start(context.Background(), &computemw.TraceStep{Name: "execution"})
	cs := open(ctx)
	for cs.RecvMsg(nil) == nil {
	}
	if got := named(rec.spans(), "modal.client.ModalClient/Watch"); len(got) != 1 || attrs(got[0])["rpc.method"] != "Watch" {
		t.Fatalf("after the stream's end: %v", names(rec.spans()))
	}

	for len(rec.ended) > 0 {
		<-rec.ended
	}
	sctx, cancel := context.WithCancel(ctx)
	_ = open(sctx) // abandoned
	cancel()
	rec.waitEnded(t, "modal.client.ModalClient/Watch")
	end(nil)
	if got := named(rec.spans(), "modal.client.ModalClient/Watch"); len(got) != 2 || got[1].Status.Description != "Canceled" {
		t.Fatalf("after an abandoned stream's context ended: %v", names(rec.spans()))
	}
}

// Outside a traced step the unary interceptor costs nothing: not one
// allocation more than the call it wraps.
func TestUnaryInterceptorUntracedCostsNothing(t *testing.T) {
	ic := tracegrpc.UnaryClientInterceptor()
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() { _ = ic(ctx, "/svc/M", nil, nil, nil, invoker) }); n != 0 {
		t.Errorf("%v allocations per call", n)
	}
}

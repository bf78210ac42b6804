package graphql

import (
	"context"
	"errors"

	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/internal/textstream"
	"github.com/computemw/kit/transports/graphql/internal/generated"
)

type subscriptionResolver struct{ h *Handler }

// Execution runs a program or a command line and streams its output as
// it is produced — one OutputChunk per write of the program — then the
// ExecutionResult. An error once the stream has begun (TIMEOUT with the
// output so far in its details, RESOURCE_ERROR, a quota) ends the
// subscription with a GraphQL error carrying the kit's code. A client
// that completes the subscription, or leaves, stops the program and its
// sandbox. With openStdin the program's input stays open after stdin:
// the first event is ExecutionStarted, whose ID the caller's sendStdin
// and endStdin name until the program ends.
func (s *subscriptionResolver) Execution(ctx context.Context, language, code, command, provider, sandboxID *string, timeout *int, stdin *string, openStdin *bool) (<-chan generated.ExecutionEvent, error) {
	h := s.h
	op := operationFrom(ctx)
	if op == nil {
		return nil, computemw.Errorf(computemw.CodeBadRequest, "subscriptions are served over WebSocket")
	}
	run := computemw.Run{Language: str(language), Code: str(code), Command: str(command),
		Provider: str(provider), SandboxID: str(sandboxID)}
	kind := computemw.OpExecute
	if run.Command != "" {
		kind = computemw.OpExec
	}
	if run.Command == "" && (run.Language == "" || run.Code == "") {
		return nil, computemw.Errorf(computemw.CodeBadRequest, "execution needs a command, or a language and code")
	}
	kctx, err := h.admit(ctx, kind)
	if err == nil {
		err = h.prepareRun(&run, timeout, stdin)
	}
	var input *openInput
	if err == nil && openStdin != nil && *openStdin {
		input, err = h.openStdin(kctx, kind, &run, stdin)
	}
	if err != nil {
		return nil, fail(kctx, err)
	}
	// The program holds the operation's place on the connection until it
	// has ended.
	op.hold()
	events := make(chan generated.ExecutionEvent)
	go func() {
		defer op.done()
		defer close(events)
		if input != nil {
			defer h.inputs.close(input)
			select {
			case events <- generated.ExecutionStarted{ExecutionID: input.id}:
			case <-ctx.Done():
				return
			}
		}
		stdout := &chunkWriter{ctx: ctx, events: events, stream: generated.OutputStreamStdout}
		stderr := &chunkWriter{ctx: ctx, events: events, stream: generated.OutputStreamStderr}
		run.Stdout, run.Stderr = stdout, stderr
		res, err := h.kit.Execute(kctx, run)
		stdout.flush()
		stderr.flush()
		if err == nil {
			err = h.strict(res)
		}
		if err != nil {
			if ctx.Err() == nil { // a client that left reads nothing
				transport.AddSubscriptionError(ctx, h.presentError(ctx, fail(kctx, withPartialOutput(err, res))))
			}
			return
		}
		select {
		case events <- executionResult(res):
		case <-ctx.Done():
		}
	}()
	return events, nil
}

// openStdin gives run an input that stays open for sendStdin, holding
// stdin (if any) first.
func (h *Handler) openStdin(ctx context.Context, kind computemw.Op, run *computemw.Run, stdin *string) (*openInput, error) {
	in, err := h.inputs.open(h.owner(ctx, caller(ctx)), kind)
	if err != nil {
		return nil, err
	}
	if data := str(stdin); data != "" {
		if err := in.push(data); err != nil {
			h.inputs.close(in)
			return nil, err
		}
	}
	run.Stdin = in.r
	return in, nil
}

// chunkWriter sends a program's output as OutputChunk events, keeping
// multi-byte characters whole across writes. Sending waits for the client
// to take the previous event: a slow client slows the program down (its
// output pipe fills) instead of the server buffering.
type chunkWriter struct {
	ctx    context.Context
	events chan<- generated.ExecutionEvent
	stream generated.OutputStream
	chunk  textstream.UTF8Chunker
}

var errClientGone = errors.New("the subscriber left")

func (w *chunkWriter) Write(p []byte) (int, error) {
	if text := w.chunk.Next(p); text != "" && !w.send(text) {
		return 0, errClientGone
	}
	return len(p), nil
}

// flush sends what is left (an incomplete character at the end becomes
// U+FFFD).
func (w *chunkWriter) flush() {
	if text := w.chunk.Rest(); text != "" {
		w.send(text)
	}
}

func (w *chunkWriter) send(data string) bool {
	select {
	case w.events <- generated.OutputChunk{Stream: w.stream, Data: data}:
		return true
	case <-w.ctx.Done():
		return false
	}
}

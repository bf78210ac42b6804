package graphql

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/internal/textstream"
)

// inputBacklog is how many sendStdin inputs may wait for a program that is
// not reading, as on the kit's WebSocket.
const inputBacklog = 64

// openInputs are the running executions whose input is open (an execution
// subscription with openStdin), by execution ID, each owned by the caller
// that started it. A caller has at most perCaller of them; each holds at
// most maxBytes of input its program has not taken yet.
type openInputs struct {
	mu        sync.Mutex
	perCaller int
	maxBytes  int64
	byID      map[string]*openInput
	byOwner   map[string]int
}

func newOpenInputs(perCaller int, maxBytes int64) *openInputs {
	return &openInputs{perCaller: perCaller, maxBytes: maxBytes, byID: map[string]*openInput{}, byOwner: map[string]int{}}
}

// openInput is the input of one running execution: a bounded queue
// writing to the pipe the program reads.
type openInput struct {
	id      string
	owner   string
	op      computemw.Op
	q       *textstream.InputQueue
	r       *io.PipeReader
	max     int64
	mu      sync.Mutex
	pending int64 // bytes queued and not yet taken by the program
	ended   bool  // by endStdin
	closed  bool  // the execution has ended
}

// open registers the input of an execution of op started by owner. Its
// reader is the program's stdin; close releases it.
func (o *openInputs) open(owner string, op computemw.Op) (*openInput, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, internal(fmt.Errorf("execution id: %w", err))
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.byOwner[owner] >= o.perCaller {
		return nil, &computemw.Error{Code: computemw.CodeRateLimited, RetryAfter: time.Second,
			Message: fmt.Sprintf("at most %d executions with open input per caller", o.perCaller)}
	}
	r, w := io.Pipe()
	in := &openInput{id: hex.EncodeToString(b[:]), owner: owner, op: op, r: r, max: o.maxBytes}
	in.q = textstream.NewInputQueue(&takenWriter{in: in, w: w}, inputBacklog)
	o.byID[in.id] = in
	o.byOwner[owner]++
	return in, nil
}

// get returns the open input of an execution, or nil.
func (o *openInputs) get(id string) *openInput {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.byID[id]
}

// close ends an execution's input when the execution has ended: later
// sendStdin and endStdin naming it are NOT_FOUND.
func (o *openInputs) close(in *openInput) {
	o.mu.Lock()
	if o.byID[in.id] == in {
		delete(o.byID, in.id)
		if o.byOwner[in.owner]--; o.byOwner[in.owner] <= 0 {
			delete(o.byOwner, in.owner)
		}
	}
	o.mu.Unlock()
	in.mu.Lock()
	in.closed = true
	in.mu.Unlock()
	_ = in.r.Close()
	in.q.Close()
	<-in.q.Done()
}

// errInputGone answers sendStdin and endStdin for an execution that is
// unknown, finished, or another caller's.
func errInputGone(id string) error {
	return computemw.Errorf(computemw.CodeNotFound, "no running execution %q of yours has its input open", truncate(id, 64))
}

// errInputEnded refuses input after endStdin.
var errInputEnded = &computemw.Error{Code: computemw.CodeBadRequest, Message: "the program's input has ended"}

// push queues data for the program, within the input's byte bound and
// backlog.
func (in *openInput) push(data string) error {
	n := int64(len(data))
	if n > in.max {
		return computemw.Errorf(computemw.CodePayloadTooLarge, "stdin data exceeds %d bytes", in.max)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	switch {
	case in.closed:
		return errInputGone(in.id)
	case in.ended:
		return errInputEnded
	case in.pending+n > in.max:
		return computemw.Errorf(computemw.CodeBadRequest, "input refused: the program is not reading it (%d bytes wait for it)", in.pending)
	}
	switch err := in.q.Push(data); {
	case errors.Is(err, textstream.ErrFull):
		return computemw.Errorf(computemw.CodeBadRequest, "input refused: the program is not reading it")
	case err != nil:
		return errInputGone(in.id)
	}
	in.pending += n
	return nil
}

// end ends the program's input once what was queued has reached it.
func (in *openInput) end() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	switch {
	case in.closed:
		return errInputGone(in.id)
	case in.ended:
		return errInputEnded
	}
	in.ended = true
	if in.q.End() != nil {
		return errInputGone(in.id)
	}
	return nil
}

// takenWriter writes the queue's input to the program's pipe, counting
// what the program has taken off the input's pending bytes.
type takenWriter struct {
	in *openInput
	w  *io.PipeWriter
}

func (t *takenWriter) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	t.in.mu.Lock()
	t.in.pending -= int64(len(p))
	t.in.mu.Unlock()
	return n, err
}

// Close ends the program's input (after endStdin).
func (t *takenWriter) Close() error { return t.w.Close() }

// owner is the key that owns what an admitted caller starts, by the
// kit's rule for sessions: the principal's ID, else the client address
// the kit believes (Config.TrustedProxies).
func (h *Handler) owner(ctx context.Context, req *computemw.Request) string {
	if p, ok := computemw.PrincipalFrom(ctx); ok && p.ID != "" {
		return "p:" + p.ID
	}
	if ip := computemw.ClientIP(ctx, req, h.cfg.TrustedProxies); ip.IsValid() {
		return "addr:" + ip.String()
	}
	return "anonymous"
}

// stdinOf admits a sendStdin or endStdin as a request of the execution's
// operation and returns the execution's input if the caller owns it.
func (h *Handler) stdinOf(ctx context.Context, id string) (context.Context, *openInput, error) {
	in := h.inputs.get(id)
	op := computemw.OpExecute
	if in != nil {
		op = in.op
	}
	req := caller(ctx)
	actx, err := h.kit.Admit(ctx, op, req)
	if err != nil {
		return actx, nil, fail(actx, err)
	}
	if in == nil || in.owner != h.owner(actx, req) {
		return actx, nil, fail(actx, errInputGone(id))
	}
	return actx, in, nil
}

// SendStdin feeds input to a running execution of the caller's started
// with openStdin.
func (m *mutationResolver) SendStdin(ctx context.Context, executionID, data string) (*bool, error) {
	ctx, in, err := m.h.stdinOf(ctx, executionID)
	if err != nil {
		return nil, err
	}
	if err := in.push(data); err != nil {
		return nil, fail(ctx, err)
	}
	return &done, nil
}

// EndStdin ends the input of a running execution of the caller's, so
// that a program reading to the end of its input finishes.
func (m *mutationResolver) EndStdin(ctx context.Context, executionID string) (*bool, error) {
	ctx, in, err := m.h.stdinOf(ctx, executionID)
	if err != nil {
		return nil, err
	}
	if err := in.end(); err != nil {
		return nil, fail(ctx, err)
	}
	return &done, nil
}

package computemcp

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/computemw/kit/computemw"
)

// session is what the endpoint keeps of one MCP session: its caller and
// the sandbox it opened, if any.
type session struct {
	ss    *mcp.ServerSession
	owner string
	// stopped ends the session's calls in progress when the client ends
	// the session (DELETE) or the session closes.
	stopped context.Context
	stop    context.CancelFunc

	// open serializes open_sandbox and close_sandbox of the session.
	open sync.Mutex

	mu        sync.Mutex
	sandboxID string
	// sandboxCtx is the admitted context the sandbox was opened with:
	// the sandbox is destroyed with it when the MCP session ends.
	sandboxCtx context.Context
	ended      bool
}

// sandbox returns the ID of the session's open sandbox, or "".
func (s *session) sandbox() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sandboxID
}

// book is the endpoint's record of open MCP sessions.
type book struct {
	srv *Server

	mu       sync.Mutex
	closed   bool
	byID     map[string]*session
	perOwner map[string]int
	watchers sync.WaitGroup
}

func newBook(srv *Server) *book {
	return &book{srv: srv, byID: map[string]*session{}, perOwner: map[string]int{}}
}

// sessionGate is the server's receiving middleware: an initialize
// registers its session in the book, within the caps, before it is
// answered; a refused one fails, and the SDK closes its session.
func (s *Server) sessionGate(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if method != "initialize" {
			return next(ctx, method, req)
		}
		ss, ok := req.GetSession().(*mcp.ServerSession)
		if !ok || ss.ID() == "" {
			return next(ctx, method, req)
		}
		var owner string
		if extra := req.GetExtra(); extra != nil {
			_, owner = callerRequest(extra.Header)
		}
		if err := s.book.add(ss, owner); err != nil {
			return nil, rpcError(err)
		}
		return next(ctx, method, req)
	}
}

// rpcError is a JSON-RPC error carrying the kit's code in its data.
func rpcError(err error) error {
	e := computemw.AsError(err)
	msg := e.Message
	if e.Code == computemw.CodeInternal {
		msg = computemw.ErrInternal.Message
	}
	data, _ := json.Marshal(map[string]any{"code": e.Code, "error": msg})
	return &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: string(e.Code) + ": " + msg, Data: data}
}

// add records ss for owner, within the caps, and watches for its end.
func (b *book) add(ss *mcp.ServerSession, owner string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return computemw.Errorf(computemw.CodeUnavailable, "the MCP server is shutting down")
	case b.byID[ss.ID()] != nil:
		return nil // initialize sent twice in one session
	case len(b.byID) >= b.srv.opts.MaxSessions:
		return &computemw.Error{Code: computemw.CodeUnavailable, Message: "too many MCP sessions, retry later"}
	case b.perOwner[owner] >= b.srv.opts.MaxSessionsPerCaller:
		return computemw.Errorf(computemw.CodeRateLimited,
			"at most %d MCP sessions per caller: end one (DELETE) first", b.srv.opts.MaxSessionsPerCaller)
	}
	sess := &session{ss: ss, owner: owner}
	sess.stopped, sess.stop = context.WithCancel(context.Background())
	b.byID[ss.ID()] = sess
	b.perOwner[owner]++
	b.watchers.Add(1)
	go func() {
		defer b.watchers.Done()
		_ = ss.Wait()
		b.end(ss.ID())
	}()
	return nil
}

// end forgets a session that closed (its client's DELETE, its idle
// timeout, Close) and destroys its sandbox.
func (b *book) end(id string) {
	b.mu.Lock()
	s := b.byID[id]
	if s != nil {
		delete(b.byID, id)
		if b.perOwner[s.owner]--; b.perOwner[s.owner] <= 0 {
			delete(b.perOwner, s.owner)
		}
	}
	b.mu.Unlock()
	if s == nil {
		return
	}
	s.stop()
	s.mu.Lock()
	s.ended = true
	sbID, sctx := s.sandboxID, s.sandboxCtx
	s.sandboxID, s.sandboxCtx = "", nil
	s.mu.Unlock()
	if sbID != "" {
		b.srv.destroySandbox(sctx, sbID)
	}
}

// get returns the session of id, or nil.
func (b *book) get(id string) *session {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.byID[id]
}

// stopCalls ends the calls in progress of the session of id: its
// client ended it, and the SDK closes a session only once its calls
// returned.
func (b *book) stopCalls(id string) {
	if s := b.get(id); s != nil {
		s.stop()
	}
}

// ownedBy reports whether the session of id, when the book has it, is
// owner's. A session the book does not know is left to the SDK (which
// answers 404 for an unknown one).
func (b *book) ownedBy(id, owner string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.byID[id]
	return s == nil || s.owner == owner
}

func (b *book) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.byID)
}

// close closes every session and waits until their sandboxes are
// destroyed, or ctx is done.
func (b *book) close(ctx context.Context) error {
	b.mu.Lock()
	b.closed = true
	open := make([]*mcp.ServerSession, 0, len(b.byID))
	for _, s := range b.byID {
		open = append(open, s.ss)
	}
	b.mu.Unlock()
	// Calls in progress stop: their sessions close as soon as they
	// return.
	b.srv.stop()
	for _, ss := range open {
		go ss.Close()
	}
	done := make(chan struct{})
	go func() {
		b.watchers.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// destroySandbox destroys a session's sandbox with the admitted context it
// was opened with, within Config.DestroyTimeout.
func (s *Server) destroySandbox(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.DestroyTimeout)
	defer cancel()
	if err := s.kit.Sessions().Destroy(ctx, id); err != nil && computemw.AsError(err).Code != computemw.CodeNotFound {
		s.log.Warn("computemcp: destroying the sandbox of an MCP session", "sandboxId", id, "error", err)
	}
}

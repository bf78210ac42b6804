package computemw

import (
	"context"
	"sync"
)

// What a transport of its own (Socket.IO, a job queue) needs beyond
// [Kit.Admit], [Kit.Execute] and [Kit.CreateSession]: the governed sandbox
// of a session, for terminals and files, and a place in the books of
// real-time connections.

// SessionSandbox returns the governed sandbox of one of the caller's
// sessions (ctx from [Kit.Admit]), marked in use until release is called:
// its terminals and file operations are authorized, observed and charged
// like the routes' own, and the session's lifetime restarts when the use
// ends. Another caller's session, or one that is gone, is NOT_FOUND.
func (k *Kit) SessionSandbox(ctx context.Context, id string) (sb Sandbox, release func(), err error) {
	s, release, err := k.session(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	return s.sb, release, nil
}

// OpenConnection holds a place for a real-time connection of the caller
// (ctx from [Kit.Admit]) in the books the WebSocket endpoint keeps — at
// most Config.WebSocket.MaxConnsPerCaller per caller (429 RATE_LIMITED
// past it) and MaxConns in all (503 UNAVAILABLE) — and reports the
// connection to the hooks (compute_active_connections) until done is
// called. done is idempotent. A refusal is reported to the hooks.
func (k *Kit) OpenConnection(ctx context.Context, op Op) (done func(), err error) {
	owner := k.owner(ctx)
	if err := k.conns.take(owner, k.cfg.WebSocket); err != nil {
		k.rejected(ctx, op, nil, err)
		return nil, err
	}
	untrack := k.trackConnection(ctx, op)
	var once sync.Once
	return func() {
		once.Do(func() {
			untrack()
			k.conns.give(owner)
		})
	}, nil
}

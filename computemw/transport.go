package computemw

import (
	"context"
	"sync"
)

// What a transport of its own (Socket.IO, a job queue) needs beyond
// [Kit.Admit], [Kit.Execute] and [Sessions.Create]: the governed sandbox
// of a session, for terminals and files, and a place in the books of
// real-time connections.

// SessionSandbox returns the governed sandbox of one of the caller's
// sessions (ctx from [Kit.Admit]), marked in use until release is called:
// its terminals and file operations are authorized, observed and charged
// like the routes' own, and the session's lifetime restarts when the use
// ends. Another caller's session, or one that is gone, is NOT_FOUND.
func (k *Kit) sessionSandbox(ctx context.Context, id string) (sb Sandbox, release func(), err error) {
	s, release, err := k.session(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	return s.sb.view(), release, nil
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

// Hold creates a sandbox that a real-time connection of the caller (ctx
// from [Kit.Admit]) holds for its life, as the WebSocket endpoint's
// create-sandbox does: it counts with the caller's sessions (the total cap
// and the caller's own), is authorized as an [OpWebSocket] creation, and
// is destroyed by release (idempotent, bounded by Config.DestroyTimeout).
// template, when set, must be one the provider offers.
func (k *Kit) Hold(ctx context.Context, provider string, opts CreateOptions) (sb Sandbox, release func(), err error) {
	if opts.Template != "" {
		p, err := k.provider(provider)
		if err != nil {
			return nil, nil, err
		}
		if err := checkTemplate(p, opts.Template); err != nil {
			return nil, nil, err
		}
	}
	ctx, err = k.ensureAdmitted(ctx, OpWebSocket)
	if err != nil {
		return nil, nil, err
	}
	owner := k.owner(ctx)
	if err := k.holdPlace(owner); err != nil {
		k.rejected(ctx, OpWebSocket, nil, err)
		return nil, nil, err
	}
	g, err := k.createFor(ctx, OpWebSocket, provider, opts)
	if err != nil {
		k.holdPlaceDone(owner)
		return nil, nil, err
	}
	destroy := k.releaser(ctx, g)
	var once sync.Once
	return g.view(), func() {
		once.Do(func() {
			destroy()
			k.holdPlaceDone(owner)
		})
	}, nil
}

package computemw

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Sessions with a shared Config.SessionStore: the store holds every
// session's record (owner, provider, sandbox ID, expiry, metadata) and the
// session limits; each instance keeps handles on the sandboxes it holds
// (k.sessions.byID, as without a store) and attaches to the others' on
// demand when their provider is an [Attacher].

// shared reports whether sessions live in a shared store.
func (k *Kit) shared() bool { return k.cfg.SessionStore != nil }

// storeUnavailable is the answer when the session store fails.
func storeUnavailable(err error) error {
	return &Error{Code: CodeUnavailable, Message: "session store unavailable, retry later", RetryAfter: capacityRetryAfter, Err: err}
}

// storeContext bounds a store call made on the kit's own behalf.
func (k *Kit) storeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), k.cfg.DestroyTimeout)
}

// reserveShared takes a place in the shared session books, waiting up to
// wait (rechecking the store) while a limit is reached.
// The place lapses after hold unless committed or released.
func (k *Kit) reserveShared(ctx context.Context, owner string, wait, hold time.Duration) (string, error) {
	lim := SessionLimits{Total: k.cfg.MaxSessions, PerOwner: k.cfg.MaxSessionsPerPrincipal}
	start := time.Now()
	var tick *time.Ticker
	for {
		token, err := k.cfg.SessionStore.Reserve(ctx, owner, lim, time.Now().Add(max(hold, time.Minute)))
		switch {
		case err == nil:
			if tick != nil {
				k.queued(ctx, time.Since(start), nil)
			}
			return token, nil
		case errors.Is(err, ErrSessionsFull):
			err = &Error{Code: CodeUnavailable, Message: "session capacity reached, retry later", RetryAfter: capacityRetryAfter}
		case errors.Is(err, ErrOwnerSessionsFull):
			err = &Error{Code: CodeRateLimited, Message: fmt.Sprintf("at most %d sessions per caller", k.cfg.MaxSessionsPerPrincipal), RetryAfter: capacityRetryAfter}
		default:
			return "", storeUnavailable(err)
		}
		if wait <= 0 || time.Since(start) >= wait {
			if tick != nil {
				k.queued(ctx, time.Since(start), err)
			}
			return "", err
		}
		if tick == nil {
			// Other instances free places without telling this one: look
			// again at a short interval until the wait ends.
			tick = time.NewTicker(min(100*time.Millisecond, wait))
			defer tick.Stop()
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			k.queued(ctx, time.Since(start), ctx.Err())
			return "", ctx.Err()
		}
	}
}

// createShared creates an authorized session and records it in the store.
func (k *Kit) createShared(ctx context.Context, a *Action, opts SessionOptions, owner string) (SessionInfo, error) {
	st := k.cfg.SessionStore
	// A creation is bounded by its wait and the provider's create.
	token, err := k.reserveShared(ctx, owner, opts.Wait, opts.Wait+k.cfg.QueueTimeout+k.cfg.DefaultTimeout+time.Minute)
	if err != nil {
		return SessionInfo{}, k.notRun(ctx, a, err)
	}
	release := func() {
		sctx, cancel := k.storeContext(ctx)
		defer cancel()
		if err := st.Release(sctx, owner, token); err != nil {
			k.log.WarnContext(ctx, "computemw: release a session place", "error", err)
		}
	}
	sb, err := k.create(ctx, a)
	if err != nil {
		release()
		return SessionInfo{}, k.notRun(ctx, a, err)
	}
	now := time.Now()
	rec := SessionRecord{ID: sb.ID(), Provider: sb.Provider(), Owner: owner, Instance: k.cfg.InstanceID,
		InstanceURL: k.cfg.InstanceURL, CreatedAt: now, ExpiresAt: now.Add(opts.TTL), TTL: opts.TTL, Metadata: maps.Clone(opts.Metadata)}
	sctx, cancel := k.storeContext(ctx)
	err = st.Commit(sctx, token, rec)
	cancel()
	if err != nil {
		release()
		k.releaser(ctx, sb)()
		return SessionInfo{}, storeUnavailable(err)
	}
	s := &session{sb: sb, owner: owner, created: now, ttl: opts.TTL, meta: rec.Metadata, expires: rec.ExpiresAt}
	k.sessions.mu.Lock()
	if k.sessions.closed || !k.Ready() {
		k.sessions.mu.Unlock()
		k.destroyShared(ctx, s)
		return SessionInfo{}, &Error{Code: CodeUnavailable, Message: "shutting down", RetryAfter: capacityRetryAfter}
	}
	k.sessions.byID[sb.ID()] = s
	info := s.info()
	k.sessions.mu.Unlock()
	return info, nil
}

// sessionShared returns the caller's live session id, attaching to it when
// another instance made it, marked in use; release ends the use.
func (k *Kit) sessionShared(ctx context.Context, id string) (*session, func(), error) {
	st := k.cfg.SessionStore
	notFound := Errorf(CodeNotFound, "sandbox %q not found", id)
	rec, err := st.Get(ctx, id)
	if errors.Is(err, ErrSessionNotFound) {
		k.dropHandle(ctx, id)
		return nil, nil, notFound
	}
	if err != nil {
		return nil, nil, storeUnavailable(err)
	}
	if rec.Owner != k.owner(ctx) {
		return nil, nil, notFound
	}
	now := time.Now()
	if !rec.ExpiresAt.After(now) {
		k.reapRecord(ctx, rec) // whichever instance sees an expired session ends it
		return nil, nil, notFound
	}
	k.sessions.mu.Lock()
	s := k.sessions.byID[id]
	if s != nil && !s.dead {
		s.inUse++
	} else {
		s = nil
	}
	k.sessions.mu.Unlock()
	if s == nil {
		if s, err = k.attachSession(ctx, rec); err != nil {
			return nil, nil, err
		}
	}
	// While in use, the record's expiry also covers the longest use
	// (another instance's reaper must not end a session mid-execution);
	// the use's end sets it to one TTL from then.
	touch := func(hold time.Duration) error {
		exp := time.Now().Add(rec.TTL)
		sctx, cancel := k.storeContext(ctx)
		defer cancel()
		err := st.Touch(sctx, id, exp.Add(hold))
		if err == nil {
			k.sessions.mu.Lock()
			s.expires = exp
			k.sessions.mu.Unlock()
		}
		return err
	}
	end := func() {
		k.sessions.mu.Lock()
		s.inUse--
		destroy := s.dead && s.inUse == 0
		k.sessions.mu.Unlock()
		if destroy {
			k.destroySession(ctx, s)
		}
	}
	if err := touch(max(k.cfg.MaxTimeout, k.cfg.WebSocket.TerminalTimeout)); err != nil { // use keeps a session alive
		end()
		if errors.Is(err, ErrSessionNotFound) {
			return nil, nil, notFound
		}
		return nil, nil, storeUnavailable(err)
	}
	return s, func() {
		if err := touch(0); err != nil && !errors.Is(err, ErrSessionNotFound) {
			k.log.WarnContext(ctx, "computemw: renew a session", "sandbox", id, "error", err)
		}
		end()
	}, nil
}

// attachSession opens a handle on a session this instance does not hold,
// marked in use; a session of a provider only its own instance reaches is
// answered with a redirect there.
func (k *Kit) attachSession(ctx context.Context, rec SessionRecord) (*session, error) {
	p, err := k.provider(rec.Provider)
	if err != nil {
		return nil, &Error{Code: CodeUnavailable, Message: "the sandbox's provider is not configured on this instance", Err: err}
	}
	att, ok := p.(Attacher)
	if !ok {
		if rec.Instance == k.cfg.InstanceID {
			// Made here, not held any more: it went with a restart.
			sctx, cancel := k.storeContext(ctx)
			_, _ = k.cfg.SessionStore.Delete(sctx, rec.ID)
			cancel()
			return nil, Errorf(CodeNotFound, "sandbox %q not found", rec.ID)
		}
		return nil, k.misdirected(ctx, rec)
	}
	g, err := k.attach(ctx, att, rec.ID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			sctx, cancel := k.storeContext(ctx)
			_, _ = k.cfg.SessionStore.Delete(sctx, rec.ID)
			cancel()
			return nil, Errorf(CodeNotFound, "sandbox %q not found", rec.ID)
		}
		return nil, err
	}
	s := &session{sb: g, owner: rec.Owner, created: rec.CreatedAt, ttl: rec.TTL, meta: rec.Metadata, expires: rec.ExpiresAt, attached: true}
	k.sessions.mu.Lock()
	if cur := k.sessions.byID[rec.ID]; cur != nil && !cur.dead {
		cur.inUse++
		k.sessions.mu.Unlock()
		k.detach(ctx, g) // another request attached meanwhile
		return cur, nil
	}
	if k.sessions.closed {
		k.sessions.mu.Unlock()
		k.detach(ctx, g)
		return nil, &Error{Code: CodeUnavailable, Message: "shutting down", RetryAfter: capacityRetryAfter}
	}
	s.inUse++
	k.sessions.byID[rec.ID] = s
	k.sessions.mu.Unlock()
	return s, nil
}

// attach opens a governed handle on a running sandbox of a remote
// provider. It holds a slot of Config.MaxSandboxes and counts as a sandbox
// of this instance for the hooks until it is destroyed or detached.
func (k *Kit) attach(ctx context.Context, att Attacher, id string) (*governed, error) {
	if err := k.reserve(ctx); err != nil {
		return nil, err
	}
	start := time.Now()
	raw, err := att.Attach(ctx, id)
	if err != nil {
		k.unreserve()
		return nil, err
	}
	g := &governed{raw: raw, k: k, defaultTimeout: k.cfg.DefaultTimeout}
	k.mu.Lock()
	k.live[g] = struct{}{}
	k.mu.Unlock()
	for _, h := range k.hooks {
		h.SandboxCreated(ctx, g, time.Since(start))
	}
	return g, nil
}

// detach lets go of a handle without destroying the sandbox, which other
// instances still serve.
func (k *Kit) detach(ctx context.Context, g *governed) {
	k.mu.Lock()
	_, ok := k.live[g]
	delete(k.live, g)
	k.mu.Unlock()
	if !ok {
		return
	}
	k.unreserve()
	if p, ok := k.providers.Get(g.Provider()); ok {
		if d, ok := p.(Detacher); ok {
			d.Detach(g.raw)
		}
	}
	for _, h := range k.hooks {
		h.SandboxDestroyed(ctx, g, nil)
	}
}

// dropHandle lets go of this instance's handle on a session whose record
// is gone (another instance destroyed it).
func (k *Kit) dropHandle(ctx context.Context, id string) {
	k.sessions.mu.Lock()
	s := k.sessions.byID[id]
	if s == nil || s.inUse > 0 {
		k.sessions.mu.Unlock()
		return
	}
	delete(k.sessions.byID, id)
	k.sessions.freedLocked()
	k.sessions.mu.Unlock()
	if _, remote := k.attacher(s.sb.Provider()); remote {
		k.detach(ctx, s.sb)
		return
	}
	k.releaser(ctx, s.sb)()
}

// attacher returns the named provider's Attacher.
func (k *Kit) attacher(name string) (Attacher, bool) {
	p, ok := k.providers.Get(name)
	if !ok {
		return nil, false
	}
	a, ok := p.(Attacher)
	return a, ok
}

// destroyShared ends a session: its record first (so that exactly one
// instance destroys it), then its sandbox.
func (k *Kit) destroyShared(ctx context.Context, s *session) {
	k.sessions.mu.Lock()
	s.dead = true
	if k.sessions.byID[s.sb.ID()] == s {
		delete(k.sessions.byID, s.sb.ID())
	}
	k.sessions.freedLocked()
	k.sessions.mu.Unlock()
	sctx, cancel := k.storeContext(ctx)
	if _, err := k.cfg.SessionStore.Delete(sctx, s.sb.ID()); err != nil {
		k.log.ErrorContext(ctx, "computemw: delete a session record", "sandbox", s.sb.ID(), "error", err)
	}
	cancel()
	k.releaser(ctx, s.sb)()
}

// misdirected is the error for a session that another instance holds:
// WRONG_INSTANCE naming the owner, with its base URL when it published
// one (Details "instance" and "instanceUrl"), so that the HTTP contract
// can redirect the request there.
func (k *Kit) misdirected(_ context.Context, rec SessionRecord) error {
	details := map[string]string{"instance": rec.Instance}
	if rec.InstanceURL != "" {
		details["instanceUrl"] = strings.TrimSuffix(rec.InstanceURL, "/")
	}
	return &Error{Code: CodeWrongInstance, Message: fmt.Sprintf("sandbox %q is served by another instance", rec.ID), Details: details}
}

// reapRecord ends an expired session that this instance can reach: held
// here, or on a remote provider. The record is deleted first, so that one
// instance destroys the sandbox.
func (k *Kit) reapRecord(ctx context.Context, rec SessionRecord) {
	k.sessions.mu.Lock()
	s := k.sessions.byID[rec.ID]
	if s != nil {
		s.dead = true
		busy := s.inUse > 0
		k.sessions.mu.Unlock()
		if !busy {
			k.destroyShared(ctx, s)
		}
		return
	}
	k.sessions.mu.Unlock()
	att, remote := k.attacher(rec.Provider)
	if !remote && rec.Instance != k.cfg.InstanceID &&
		time.Since(rec.ExpiresAt) < 2*k.cfg.SessionReapInterval {
		return // its own instance reaps it (if it is gone, the record is dropped later)
	}
	sctx, cancel := k.storeContext(ctx)
	defer cancel()
	won, err := k.cfg.SessionStore.Delete(sctx, rec.ID)
	if err != nil || !won || !remote {
		return
	}
	g, err := k.attach(sctx, att, rec.ID)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			k.log.ErrorContext(ctx, "computemw: reap an expired session", "sandbox", rec.ID, "error", err)
		}
		return
	}
	if err := g.Destroy(sctx); err != nil {
		k.log.ErrorContext(ctx, "computemw: reap an expired session", "sandbox", rec.ID, "error", err)
	}
}

// ReapSessions ends, with a Config.SessionStore, the expired sessions
// this instance can reach and lets go of its handles on sessions other
// instances destroyed; each instance runs it every
// Config.SessionReapInterval. It returns how many expired records it saw.
func (k *Kit) reapSessions(ctx context.Context) (int, error) {
	if !k.shared() {
		return 0, nil
	}
	recs, err := k.cfg.SessionStore.Expired(ctx, time.Now(), 100)
	if err != nil {
		return 0, err
	}
	for _, rec := range recs {
		k.reapRecord(ctx, rec)
	}
	k.sessions.mu.Lock()
	var held []string
	for id, s := range k.sessions.byID {
		if s.attached && s.inUse == 0 {
			held = append(held, id)
		}
	}
	k.sessions.mu.Unlock()
	for _, id := range held {
		if _, err := k.cfg.SessionStore.Get(ctx, id); errors.Is(err, ErrSessionNotFound) {
			k.dropHandle(ctx, id)
		}
	}
	return len(recs), nil
}

// startReaper runs ReapSessions every Config.SessionReapInterval until
// Close.
func (k *Kit) startReaper() {
	k.bg.goFunc(func(ctx context.Context) {
		t := time.NewTicker(k.cfg.SessionReapInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := k.reapSessions(ctx); err != nil && ctx.Err() == nil {
					k.log.WarnContext(ctx, "computemw: reap expired sessions", "error", err)
				}
			}
		}
	})
}

// closeShared lets go of this instance's sessions at Close: those of a
// remote provider live on for the other instances; those only this
// instance reaches are destroyed and their records deleted.
func (k *Kit) closeShared(ctx context.Context) {
	k.sessions.mu.Lock()
	k.sessions.closed = true
	all := make([]*session, 0, len(k.sessions.byID))
	for _, s := range k.sessions.byID {
		all = append(all, s)
	}
	k.sessions.mu.Unlock()
	for _, s := range all {
		if _, remote := k.attacher(s.sb.Provider()); remote {
			k.sessions.mu.Lock()
			delete(k.sessions.byID, s.sb.ID())
			k.sessions.mu.Unlock()
			k.detach(ctx, s.sb)
			continue
		}
		k.destroyShared(ctx, s)
	}
}

// listShared lists the caller's sessions from the store.
func (k *Kit) listShared(ctx context.Context, owner string) ([]SessionInfo, error) {
	recs, err := k.cfg.SessionStore.List(ctx, owner, time.Now())
	if err != nil {
		return nil, storeUnavailable(err)
	}
	list := make([]SessionInfo, 0, len(recs))
	for _, r := range recs {
		list = append(list, SessionInfo{SandboxID: r.ID, Provider: r.Provider, Status: "running",
			CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(), Metadata: r.Metadata})
	}
	slices.SortFunc(list, func(a, b SessionInfo) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return list, nil
}

// sharedSlot holds a place in the shared session books for a WebSocket
// connection's sandbox, for at most the connection's lifetime (the place
// of an instance that dies lapses then).
func (k *Kit) sharedSlot(owner string) error {
	ctx, cancel := k.storeContext(context.Background())
	defer cancel()
	token, err := k.reserveShared(ctx, owner, 0, k.cfg.WebSocket.MaxLifetime+k.cfg.DestroyTimeout+time.Minute)
	if err != nil {
		return err
	}
	k.sessions.mu.Lock()
	k.sessions.places[owner] = append(k.sessions.places[owner], token)
	k.sessions.mu.Unlock()
	return nil
}

// sharedSlotDone gives back one of owner's places.
func (k *Kit) sharedSlotDone(owner string) {
	k.sessions.mu.Lock()
	tokens := k.sessions.places[owner]
	if len(tokens) == 0 {
		k.sessions.mu.Unlock()
		return
	}
	token := tokens[len(tokens)-1]
	if len(tokens) == 1 {
		delete(k.sessions.places, owner)
	} else {
		k.sessions.places[owner] = tokens[:len(tokens)-1]
	}
	k.sessions.mu.Unlock()
	ctx, cancel := k.storeContext(context.Background())
	defer cancel()
	if err := k.cfg.SessionStore.Release(ctx, owner, token); err != nil {
		k.log.WarnContext(ctx, "computemw: release a session place", "error", err)
	}
}

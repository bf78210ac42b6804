package computemw

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The session book's machinery: places (a session being created, or a
// real-time connection's sandbox, counts towards the limits), handles on
// other instances' sessions, expiry and reaping. See sessions.go.

// storeUnavailable is the answer when the session store fails.
func storeUnavailable(err error) error {
	return &Error{Code: CodeUnavailable, Message: "session store unavailable, retry later", RetryAfter: capacityRetryAfter, Err: err}
}

// storeContext bounds a store call made on the kit's own behalf.
func (k *Kit) storeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), k.cfg.DestroyTimeout)
}

// reservePlace takes a place in the session book for owner, waiting up to
// wait while a limit is reached: woken when this instance frees a place,
// and looking again at a short interval for places other instances free.
// The place lapses after hold unless committed or released.
func (k *Kit) reservePlace(ctx context.Context, owner string, perOwner int, wait, hold time.Duration) (string, error) {
	k.startReaper() // lapsed places are dropped by the reaper
	lim := SessionLimits{Total: k.cfg.MaxSessions, PerOwner: perOwner}
	start := time.Now()
	var (
		tick    *time.Ticker
		waiting bool
	)
	defer func() {
		if waiting {
			k.sessions.mu.Lock()
			k.sessions.waiters--
			k.sessions.mu.Unlock()
		}
	}()
	for {
		// Take the wake-up channel before looking, so that a place freed
		// between the look and the wait is not missed.
		k.sessions.mu.Lock()
		if k.sessions.freed == nil {
			k.sessions.freed = make(chan struct{})
		}
		freed := k.sessions.freed
		k.sessions.mu.Unlock()
		token, err := k.sessions.store.Reserve(ctx, owner, lim, time.Now().Add(max(hold, time.Minute)))
		switch {
		case err == nil:
			if waiting {
				k.queued(ctx, time.Since(start), nil)
			}
			return token, nil
		case errors.Is(err, ErrSessionsFull):
			err = &Error{Code: CodeUnavailable, Message: "session capacity reached, retry later", RetryAfter: capacityRetryAfter}
		case errors.Is(err, ErrOwnerSessionsFull):
			err = &Error{Code: CodeRateLimited, Message: fmt.Sprintf("at most %d sessions per caller", lim.PerOwner), RetryAfter: capacityRetryAfter}
		default:
			return "", storeUnavailable(err)
		}
		if wait <= 0 || time.Since(start) >= wait {
			if waiting {
				k.queued(ctx, time.Since(start), err)
			}
			return "", err
		}
		if !waiting {
			waiting = true
			k.sessions.mu.Lock()
			k.sessions.waiters++
			k.sessions.mu.Unlock()
			tick = time.NewTicker(min(100*time.Millisecond, wait))
			defer tick.Stop()
		}
		select {
		case <-freed:
		case <-tick.C:
		case <-ctx.Done():
			k.queued(ctx, time.Since(start), ctx.Err())
			return "", ctx.Err()
		}
	}
}

// releasePlace gives back owner's place token whose session was not made.
func (k *Kit) releasePlace(ctx context.Context, owner, token string) {
	sctx, cancel := k.storeContext(ctx)
	defer cancel()
	if err := k.sessions.store.Release(sctx, owner, token); err != nil {
		k.log.WarnContext(ctx, "computemw: release a session place", "error", err)
	}
	k.sessions.mu.Lock()
	k.sessions.freedLocked()
	k.sessions.mu.Unlock()
}

// holdPlace takes a place in the session book for a real-time
// connection's sandbox ([Kit.Hold]), for at most the connection's
// lifetime (the place of an instance that dies lapses then).
func (k *Kit) holdPlace(owner string) error {
	ctx, cancel := k.storeContext(context.Background())
	defer cancel()
	token, err := k.reservePlace(ctx, owner, k.cfg.MaxSessionsPerPrincipal, 0, k.cfg.WebSocket.MaxLifetime+k.cfg.DestroyTimeout+time.Minute)
	if err != nil {
		return err
	}
	k.sessions.mu.Lock()
	k.sessions.places[owner] = append(k.sessions.places[owner], token)
	k.sessions.mu.Unlock()
	return nil
}

// holdPlaceDone gives back one of owner's connection places.
func (k *Kit) holdPlaceDone(owner string) {
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
	k.releasePlace(context.Background(), owner, token)
}

// sessionWaiters returns the number of session requests waiting for a
// place.
func (k *Kit) sessionWaiters() int {
	k.sessions.mu.Lock()
	defer k.sessions.mu.Unlock()
	return k.sessions.waiters
}

// expireSession runs when a held session's timer fires: the session ends
// when its record's expiry has passed and no use is running (a use's end
// sets a new expiry); else the timer is set for the record's expiry,
// which another instance's use may have pushed.
func (k *Kit) expireSession(s *session) {
	id := s.sb.ID()
	ctx, cancel := k.storeContext(context.Background())
	defer cancel()
	rec, err := k.sessions.store.Get(ctx, id)
	k.sessions.mu.Lock()
	if s.dead || s.inUse > 0 {
		k.sessions.mu.Unlock()
		return
	}
	switch {
	case err == nil && rec.ExpiresAt.After(time.Now()):
		s.expires = rec.ExpiresAt
		s.timer.Reset(time.Until(rec.ExpiresAt))
		k.sessions.mu.Unlock()
		return
	case err != nil && !errors.Is(err, ErrSessionNotFound):
		// The store did not answer: look again soon.
		s.timer.Reset(k.cfg.SessionReapInterval)
		k.sessions.mu.Unlock()
		return
	}
	s.dead = true
	k.sessions.mu.Unlock()
	k.destroySession(ctx, s)
}

// destroySession ends a session: its record first (so that exactly one
// instance destroys it), then its sandbox.
func (k *Kit) destroySession(ctx context.Context, s *session) {
	k.sessions.mu.Lock()
	s.dead = true
	if s.timer != nil {
		s.timer.Stop()
	}
	if k.sessions.byID[s.sb.ID()] == s {
		delete(k.sessions.byID, s.sb.ID())
	}
	k.sessions.freedLocked()
	k.sessions.mu.Unlock()
	sctx, cancel := k.storeContext(ctx)
	if _, err := k.sessions.store.Delete(sctx, s.sb.ID()); err != nil {
		k.log.ErrorContext(ctx, "computemw: delete a session record", "sandbox", s.sb.ID(), "error", err)
	}
	cancel()
	k.releaser(ctx, s.sb)()
}

// closeSessions lets go of this instance's sessions at Close: those of a
// remote provider live on for the other instances (with a shared store);
// those only this instance reaches are destroyed and their records
// deleted.
func (k *Kit) closeSessions(ctx context.Context) {
	k.sessions.mu.Lock()
	k.sessions.closed = true
	all := make([]*session, 0, len(k.sessions.byID))
	for _, s := range k.sessions.byID {
		all = append(all, s)
	}
	k.sessions.mu.Unlock()
	for _, s := range all {
		if _, remote := k.attacher(s.sb.Provider()); remote && k.cfg.SessionStore != nil {
			k.sessions.mu.Lock()
			if s.timer != nil {
				s.timer.Stop()
			}
			delete(k.sessions.byID, s.sb.ID())
			k.sessions.mu.Unlock()
			k.detach(ctx, s.sb)
			continue
		}
		k.destroySession(ctx, s)
	}
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
			_, _ = k.sessions.store.Delete(sctx, rec.ID)
			cancel()
			return nil, Errorf(CodeNotFound, "sandbox %q not found", rec.ID)
		}
		return nil, k.misdirected(ctx, rec)
	}
	g, err := k.attach(ctx, att, rec.ID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			sctx, cancel := k.storeContext(ctx)
			_, _ = k.sessions.store.Delete(sctx, rec.ID)
			cancel()
			return nil, Errorf(CodeNotFound, "sandbox %q not found", rec.ID)
		}
		return nil, err
	}
	g.maxRunning = k.cfg.MaxSessionExecutions
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
			k.destroySession(ctx, s)
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
	won, err := k.sessions.store.Delete(sctx, rec.ID)
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

// reapSessions ends the expired sessions this instance can reach and lets
// go of its handles on sessions other instances destroyed; each instance
// runs it every Config.SessionReapInterval. It returns how many expired
// records it saw.
func (k *Kit) reapSessions(ctx context.Context) (int, error) {
	recs, err := k.sessions.store.Expired(ctx, time.Now(), 100)
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
		if _, err := k.sessions.store.Get(ctx, id); errors.Is(err, ErrSessionNotFound) {
			k.dropHandle(ctx, id)
		}
	}
	return len(recs), nil
}

// startReaper runs reapSessions every Config.SessionReapInterval until
// Close, from the first place taken (or at New with a shared store): a
// kit that makes no session runs no reaper.
func (k *Kit) startReaper() {
	k.sessions.reaper.Do(k.runReaper)
}

func (k *Kit) runReaper() {
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

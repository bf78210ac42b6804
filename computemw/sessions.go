package computemw

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"
)

// Session sandboxes outlive a request: created with POST /sandboxes, used
// by ID, kept alive by use or POST /sandboxes/{id}/keepalive, destroyed by
// DELETE, by their TTL, or by Close. A session belongs to the principal who
// created it; to anyone else it does not exist (404). Without
// authentication, an anonymous caller's sessions belong to its client
// address.
//
// The session book is one implementation behind [SessionStore]: the store
// holds every session's record and the session limits (in this process's
// memory unless Config.SessionStore names a shared one); this instance
// keeps handles on the sandboxes it holds (sessions.byID) and attaches to
// other instances' sessions on demand when their provider is an
// [Attacher]. The book's code is in sessions.go (the caller's
// operations) and sessionbook.go (places, handles, expiry and reaping).

// SessionInfo describes a session sandbox.
type SessionInfo struct {
	SandboxID string            `json:"sandboxId"`
	Provider  string            `json:"provider"`
	Status    string            `json:"status"` // "running"
	CreatedAt time.Time         `json:"createdAt"`
	ExpiresAt time.Time         `json:"expiresAt"`
	Metadata  map[string]string `json:"metadata,omitempty"`
}

// session is this instance's handle on a session's sandbox.
type session struct {
	sb      *governed
	owner   string
	created time.Time
	ttl     time.Duration
	meta    map[string]string
	// attached: another instance made the session; this one holds a
	// handle on it.
	attached bool

	// guarded by sessions.mu
	expires time.Time
	timer   *time.Timer // nil for attached handles: the reaper ends those
	inUse   int
	dead    bool // expired or closing: destroy when the last use ends
}

// sessions is the instance's side of the session book.
type sessions struct {
	store  SessionStore // Config.SessionStore, else one in memory
	reaper sync.Once    // starts the reaper

	mu     sync.Mutex
	closed bool                // Close has begun: no session is added
	byID   map[string]*session // handles this instance holds
	// places are the places held by real-time connections' sandboxes
	// ([Kit.Hold]), by owner.
	places map[string][]string
	// freed is closed (and replaced) when this instance ends a session or
	// gives back a place: place waiters look again.
	freed   chan struct{}
	waiters int // requests waiting for a place
}

// freedLocked wakes the place waiters; ss.mu is held.
func (ss *sessions) freedLocked() {
	if ss.freed != nil {
		close(ss.freed)
		ss.freed = nil
	}
}

func (s *session) info() SessionInfo {
	return SessionInfo{SandboxID: s.sb.ID(), Provider: s.sb.Provider(), Status: "running",
		CreatedAt: s.created.UTC(), ExpiresAt: s.expires.UTC(), Metadata: s.meta}
}

// SessionOptions configure [Sessions.Create].
type SessionOptions struct {
	// Provider names the provider; "" is the kit's default.
	Provider string
	// Template is the sandbox's template (for the local provider, a
	// language whose runtime must be present).
	Template string
	// TTL is the session's lifetime after its last use; zero is
	// Config.SessionTTL, and it is at most Config.MaxSessionTTL.
	TTL time.Duration
	// Wait is how long to wait for a session place when the caller or the
	// kit is at its session limit; zero refuses at once.
	Wait time.Duration
	// Metadata is kept with the session (at most 32 entries).
	Metadata map[string]string
}

// createSession creates a session sandbox owned by the caller (ctx from
// [Kit.Admit]): authorized to create a sandbox, within the session limits
// (in total and per caller), recorded in the store.
func (k *Kit) createSession(ctx context.Context, opts SessionOptions) (SessionInfo, error) {
	switch {
	case opts.TTL == 0:
		opts.TTL = k.cfg.SessionTTL
	case opts.TTL < 0 || opts.TTL > k.cfg.MaxSessionTTL:
		return SessionInfo{}, Errorf(CodeBadRequest, "session lifetime must be positive and at most %d ms", k.cfg.MaxSessionTTL.Milliseconds())
	}
	if len(opts.Metadata) > 32 {
		return SessionInfo{}, Errorf(CodeBadRequest, "field \"metadata\" has more than 32 entries")
	}
	ctx, err := k.ensureAdmitted(ctx, OpSessions)
	if err != nil {
		return SessionInfo{}, err
	}
	p, plan, err := k.pick(opts.Provider)
	if err != nil {
		return SessionInfo{}, err
	}
	if opts.Template != "" {
		if err := checkTemplate(p, opts.Template); err != nil {
			return SessionInfo{}, err
		}
	}
	a := &Action{Op: OpSessions, Provider: p.Name(), Language: opts.Template, Timeout: k.cfg.DefaultTimeout,
		Create: CreateOptions{Template: opts.Template, Metadata: opts.Metadata}, CreatesSandbox: true, plan: plan}
	if err := k.authorize(ctx, a); err != nil {
		return SessionInfo{}, err
	}
	owner := k.owner(ctx)
	st := k.sessions.store
	// A creation is bounded by its wait and the provider's create.
	perOwner := lower(k.cfg.MaxSessionsPerPrincipal, a.MaxSessions)
	lifetime := lower(k.cfg.MaxSessionLifetime, a.MaxSessionLifetime)
	token, err := k.reservePlace(ctx, owner, perOwner, opts.Wait, opts.Wait+k.cfg.QueueTimeout+k.cfg.DefaultTimeout+time.Minute)
	if err != nil {
		return SessionInfo{}, k.notRun(ctx, a, err)
	}
	sb, err := k.create(ctx, a)
	if err != nil {
		k.releasePlace(ctx, owner, token)
		return SessionInfo{}, k.notRun(ctx, a, err)
	}
	sb.maxRunning = k.cfg.MaxSessionExecutions
	now := time.Now()
	rec := SessionRecord{ID: sb.ID(), Provider: sb.Provider(), Owner: owner, Instance: k.cfg.InstanceID,
		InstanceURL: k.cfg.InstanceURL, CreatedAt: now, TTL: opts.TTL, Deadline: now.Add(lifetime), Metadata: maps.Clone(opts.Metadata)}
	rec.ExpiresAt = rec.expiry(now)
	sctx, cancel := k.storeContext(ctx)
	err = st.Commit(sctx, token, rec)
	cancel()
	if err != nil {
		k.releasePlace(ctx, owner, token)
		k.releaser(ctx, sb)()
		return SessionInfo{}, storeUnavailable(err)
	}
	s := &session{sb: sb, owner: owner, created: now, ttl: opts.TTL, meta: rec.Metadata, expires: rec.ExpiresAt}
	k.sessions.mu.Lock()
	if k.sessions.closed || !k.Ready() { // Close began meanwhile
		k.sessions.mu.Unlock()
		k.destroySession(ctx, s)
		return SessionInfo{}, &Error{Code: CodeUnavailable, Message: "shutting down", RetryAfter: capacityRetryAfter}
	}
	s.timer = time.AfterFunc(time.Until(rec.ExpiresAt), func() { k.expireSession(s) })
	k.sessions.byID[sb.ID()] = s
	info := s.info()
	k.sessions.mu.Unlock()
	return info, nil
}

// destroySessionByID destroys one of the caller's sessions: at once when
// idle, else when its current use ends. Another caller's session is
// NOT_FOUND.
func (k *Kit) destroySessionByID(ctx context.Context, id string) error {
	s, release, err := k.session(ctx, id)
	if err != nil {
		return err
	}
	k.sessions.mu.Lock()
	s.dead = true
	k.sessions.mu.Unlock()
	release()
	return nil
}

// owner is the key that owns a caller's sessions: the principal's ID, or
// for an anonymous caller its client address (X-Forwarded-For believed
// from Config.TrustedProxies only), so that anonymous callers neither see
// nor use each other's sessions.
func (k *Kit) owner(ctx context.Context) string {
	if p, ok := PrincipalFrom(ctx); ok && p.ID != "" {
		return "p:" + p.ID
	}
	if ip := ClientIP(ctx, admittedRequest(ctx), k.cfg.TrustedProxies); ip.IsValid() {
		return "addr:" + ip.String()
	}
	return "anonymous"
}

// targetProvider is the provider an action on sandbox id (or none) runs
// on: the one named, else the session's, else the strategy's choice (plan
// lists the providers a creation tries) or the default.
func (k *Kit) targetProvider(ctx context.Context, name, id string) (Provider, []string, error) {
	if name == "" && id != "" {
		name = k.sessionProvider(ctx, id)
		if name == "" {
			p, err := k.provider("") // the lookup that follows reports the unknown session
			return p, nil, err
		}
	}
	return k.pick(name)
}

// sessionProvider returns the provider of the caller's session id, or ""
// when there is none (the lookup that follows reports it).
func (k *Kit) sessionProvider(ctx context.Context, id string) string {
	k.sessions.mu.Lock()
	s, ok := k.sessions.byID[id]
	k.sessions.mu.Unlock()
	if ok {
		if s.owner == k.owner(ctx) {
			return s.sb.Provider()
		}
		return ""
	}
	if rec, err := k.sessions.store.Get(ctx, id); err == nil && rec.Owner == k.owner(ctx) {
		return rec.Provider
	}
	return ""
}

// session returns the caller's live session id, attaching to it when
// another instance made it, marked in use; release ends the use. A use
// keeps a session alive: while it lasts, the record's expiry also covers
// the longest use (no instance's reaper ends a session mid-execution), and
// its end sets the expiry to one TTL from then.
func (k *Kit) session(ctx context.Context, id string) (*session, func(), error) {
	st := k.sessions.store
	notFound := Errorf(CodeNotFound, "sandbox %q not found", id)
	owner := k.owner(ctx)
	rec, err := st.Get(ctx, id)
	if errors.Is(err, ErrSessionNotFound) {
		k.dropHandle(ctx, id)
		return nil, nil, notFound
	}
	if err != nil {
		return nil, nil, storeUnavailable(err)
	}
	if rec.Owner != owner {
		return nil, nil, notFound
	}
	if !rec.ExpiresAt.After(time.Now()) {
		k.reapRecord(ctx, rec) // whichever instance sees an expired session ends it
		return nil, nil, notFound
	}
	k.sessions.mu.Lock()
	s := k.sessions.byID[id]
	switch {
	case s != nil && s.dead: // being destroyed
		k.sessions.mu.Unlock()
		return nil, nil, notFound
	case s != nil:
		s.inUse++
	}
	k.sessions.mu.Unlock()
	if s == nil {
		if s, err = k.attachSession(ctx, rec); err != nil {
			return nil, nil, err
		}
	}
	touch := func(hold time.Duration) error {
		now := time.Now()
		exp := rec.expiry(now)
		sctx, cancel := k.storeContext(ctx)
		defer cancel()
		err := st.Touch(sctx, id, rec.expiry(now.Add(hold)))
		if err == nil {
			k.sessions.mu.Lock()
			s.expires = exp
			if s.timer != nil && hold == 0 {
				s.timer.Reset(time.Until(exp))
			}
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
	if err := touch(max(k.cfg.MaxTimeout, k.cfg.WebSocket.TerminalTimeout)); err != nil {
		end()
		if errors.Is(err, ErrSessionNotFound) {
			return nil, nil, notFound
		}
		return nil, nil, storeUnavailable(err)
	}
	var once sync.Once
	return s, func() {
		once.Do(func() {
			k.sessions.mu.Lock()
			dead := s.dead
			k.sessions.mu.Unlock()
			if !dead {
				if err := touch(0); err != nil && !errors.Is(err, ErrSessionNotFound) {
					k.log.WarnContext(ctx, "computemw: renew a session", "sandbox", id, "error", err)
				}
			}
			end()
		})
	}, nil
}

// listSessions returns the caller's live sessions (ctx from [Kit.Admit]),
// oldest first, as GET /sandboxes answers them. The caller must be allowed
// [OpSessions].
func (k *Kit) listSessions(ctx context.Context) ([]SessionInfo, error) {
	ctx, err := k.ensureAdmitted(ctx, OpSessions)
	if err != nil {
		return nil, err
	}
	if err := k.authorize(ctx, &Action{Op: OpSessions}); err != nil {
		return nil, err
	}
	recs, err := k.sessions.store.List(ctx, k.owner(ctx), time.Now())
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

// sessionInfo returns one of the caller's sessions (ctx from
// [Kit.Admit]). Looking a session up is a use: its lifetime restarts,
// which is what POST /sandboxes/{id}/keepalive does. Another caller's
// session, or one that is gone, is NOT_FOUND.
func (k *Kit) sessionInfo(ctx context.Context, id string) (SessionInfo, error) {
	s, release, err := k.session(ctx, id)
	if err != nil {
		return SessionInfo{}, err
	}
	release()
	k.sessions.mu.Lock()
	defer k.sessions.mu.Unlock()
	return s.info(), nil
}

// expiry is when the session ends if its last use is at t: one TTL later,
// and never past its deadline.
func (r SessionRecord) expiry(t time.Time) time.Time {
	exp := t.Add(r.TTL)
	if !r.Deadline.IsZero() && exp.After(r.Deadline) {
		return r.Deadline
	}
	return exp
}

// lower returns the Config's cap, lowered to a policy's when it set one.
func lower[T int | time.Duration](cfg, policy T) T {
	if policy > 0 && policy < cfg {
		return policy
	}
	return cfg
}

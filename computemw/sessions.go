package computemw

import (
	"context"
	"fmt"
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

// SessionInfo describes a session sandbox.
type SessionInfo struct {
	SandboxID string            `json:"sandboxId"`
	Provider  string            `json:"provider"`
	Status    string            `json:"status"` // "running"
	CreatedAt time.Time         `json:"createdAt"`
	ExpiresAt time.Time         `json:"expiresAt"`
	Metadata  map[string]string `json:"metadata,omitempty"`
}

type session struct {
	sb      *governed
	owner   string
	created time.Time
	ttl     time.Duration
	meta    map[string]string
	// attached: another instance made the session (shared store); this
	// one holds a handle on it.
	attached bool

	// guarded by sessions.mu
	expires time.Time
	timer   *time.Timer
	inUse   int
	dead    bool // expired or closing: destroy when the last use ends
}

type sessions struct {
	mu      sync.Mutex
	closed  bool // Close has begun: no session is added
	byID    map[string]*session
	pending map[string]int // sessions being created, by owner
	// places are the shared store's places held by WebSocket
	// connections' sandboxes, by owner (with Config.SessionStore).
	places map[string][]string
	// freed is closed (and replaced) when a session or a pending
	// creation ends: slot waiters look again.
	freed   chan struct{}
	waiters int // requests waiting for a slot
}

// freedLocked wakes the slot waiters; ss.mu is held.
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
	// Wait is how long to wait for a session slot when the caller or the
	// kit is at its session limit; zero refuses at once.
	Wait time.Duration
	// Metadata is kept with the session (at most 32 entries).
	Metadata map[string]string
}

// CreateSession creates a session sandbox owned by the caller: the
// governed form of POST /sandboxes, for custom transports. The caller
// (ctx from [Kit.Admit]) is authorized to create a sandbox, the session
// limits are held (in total and per caller), and the sandbox then serves
// [Run]s and file operations that name its ID, from this caller only.
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
	if k.shared() {
		return k.createShared(ctx, a, opts, owner)
	}
	if err := k.sessionSlotWait(ctx, owner, opts.Wait); err != nil {
		return SessionInfo{}, k.notRun(ctx, a, err)
	}
	sb, err := k.create(ctx, a)
	if err != nil {
		k.sessionSlotDone(owner)
		return SessionInfo{}, k.notRun(ctx, a, err)
	}
	if !k.Ready() { // Close began while the sandbox was being created
		k.sessionSlotDone(owner)
		_ = sb.Destroy(context.WithoutCancel(ctx))
		return SessionInfo{}, &Error{Code: CodeUnavailable, Message: "shutting down", RetryAfter: capacityRetryAfter}
	}
	s := &session{sb: sb, owner: owner, created: time.Now(), ttl: opts.TTL, meta: maps.Clone(opts.Metadata)}
	k.sessions.mu.Lock()
	k.sessions.dropPending(owner)
	if k.sessions.closed { // Close swept the sessions meanwhile
		k.sessions.mu.Unlock()
		_ = sb.Destroy(context.WithoutCancel(ctx))
		return SessionInfo{}, &Error{Code: CodeUnavailable, Message: "shutting down", RetryAfter: capacityRetryAfter}
	}
	s.expires = s.created.Add(opts.TTL)
	s.timer = time.AfterFunc(opts.TTL, func() { k.expireSession(s) })
	k.sessions.byID[sb.ID()] = s
	info := s.info()
	k.sessions.mu.Unlock()
	return info, nil
}

// DestroySession destroys one of the caller's sessions: the governed form
// of DELETE /sandboxes/{id}. Another caller's session is NOT_FOUND.
func (k *Kit) destroySessionByID(ctx context.Context, id string) error {
	s, release, err := k.session(ctx, id)
	if err != nil {
		return err
	}
	release()
	k.destroySession(ctx, s)
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
	owner := k.owner(ctx)
	if k.shared() {
		if rec, err := k.cfg.SessionStore.Get(ctx, id); err == nil && rec.Owner == owner {
			return rec.Provider
		}
		return ""
	}
	k.sessions.mu.Lock()
	defer k.sessions.mu.Unlock()
	if s, ok := k.sessions.byID[id]; ok && s.owner == owner && !s.dead {
		return s.sb.Provider()
	}
	return ""
}

// sessionSlot checks the session limits for owner and holds a place for
// the session being created (sessions in creation count), so concurrent
// creates cannot overshoot; the place becomes the session, or is given
// back with sessionSlotDone.
func (k *Kit) sessionSlot(owner string) error {
	if k.shared() {
		return k.sharedSlot(owner)
	}
	k.sessions.mu.Lock()
	defer k.sessions.mu.Unlock()
	total, mine := 0, k.sessions.pending[owner]
	for _, n := range k.sessions.pending {
		total += n
	}
	for _, s := range k.sessions.byID {
		if s.dead {
			continue
		}
		total++
		if s.owner == owner {
			mine++
		}
	}
	if total >= k.cfg.MaxSessions {
		return &Error{Code: CodeUnavailable, Message: "session capacity reached, retry later", RetryAfter: capacityRetryAfter}
	}
	if mine >= k.cfg.MaxSessionsPerPrincipal {
		return &Error{Code: CodeRateLimited, Message: fmt.Sprintf("at most %d sessions per caller", k.cfg.MaxSessionsPerPrincipal),
			RetryAfter: capacityRetryAfter}
	}
	k.sessions.pending[owner]++
	return nil
}

// sessionSlotDone gives back a place whose session was not created.
func (k *Kit) sessionSlotDone(owner string) {
	if k.shared() {
		k.sharedSlotDone(owner)
		return
	}
	k.sessions.mu.Lock()
	defer k.sessions.mu.Unlock()
	k.sessions.dropPending(owner)
}

// sessionSlotWait takes a session slot for owner, waiting up to wait for
// one to be freed when the kit or the caller is at its limit.
func (k *Kit) sessionSlotWait(ctx context.Context, owner string, wait time.Duration) error {
	err := k.sessionSlot(owner)
	if err == nil || wait <= 0 {
		return err
	}
	start := time.Now()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		k.sessions.mu.Lock()
		if k.sessions.freed == nil {
			k.sessions.freed = make(chan struct{})
		}
		freed := k.sessions.freed
		k.sessions.waiters++
		k.sessions.mu.Unlock()
		// A slot freed between the refusal and now closed an earlier
		// channel: look once more before waiting.
		if err = k.sessionSlot(owner); err == nil {
			k.queued(ctx, time.Since(start), nil)
			return nil
		}
		var end error
		select {
		case <-freed:
		case <-timer.C:
			end = err
		case <-ctx.Done():
			end = ctx.Err()
		}
		k.sessions.mu.Lock()
		k.sessions.waiters--
		k.sessions.mu.Unlock()
		if end != nil {
			k.queued(ctx, time.Since(start), end)
			return end
		}
	}
}

// SessionWaiters returns the number of session requests waiting for a
// slot.
func (k *Kit) sessionWaiters() int {
	k.sessions.mu.Lock()
	defer k.sessions.mu.Unlock()
	return k.sessions.waiters
}

// dropPending ends a creation of owner's; ss.mu is held.
func (ss *sessions) dropPending(owner string) {
	defer ss.freedLocked()
	if ss.pending[owner]--; ss.pending[owner] <= 0 {
		delete(ss.pending, owner)
	}
}

// session returns the caller's live session id, marked in use; release
// ends the use (and destroys a session that expired meanwhile).
func (k *Kit) session(ctx context.Context, id string) (*session, func(), error) {
	if k.shared() {
		return k.sessionShared(ctx, id)
	}
	owner := k.owner(ctx)
	k.sessions.mu.Lock()
	s, ok := k.sessions.byID[id]
	if !ok || s.owner != owner || s.dead {
		k.sessions.mu.Unlock()
		return nil, nil, Errorf(CodeNotFound, "sandbox %q not found", id)
	}
	s.inUse++
	s.expires = time.Now().Add(s.ttl) // use keeps a session alive
	s.timer.Reset(s.ttl)
	k.sessions.mu.Unlock()
	release := func() {
		k.sessions.mu.Lock()
		s.inUse--
		destroy := s.dead && s.inUse == 0
		k.sessions.mu.Unlock()
		if destroy {
			k.destroySession(ctx, s)
		}
	}
	return s, release, nil
}

// expireSession ends a session whose TTL passed: at once when idle, else
// when its current use ends.
func (k *Kit) expireSession(s *session) {
	k.sessions.mu.Lock()
	if s.dead || time.Now().Before(s.expires) {
		k.sessions.mu.Unlock()
		return
	}
	s.dead = true
	idle := s.inUse == 0
	k.sessions.mu.Unlock()
	if idle {
		k.destroySession(context.Background(), s)
	}
}

func (k *Kit) destroySession(ctx context.Context, s *session) {
	if k.shared() {
		k.destroyShared(ctx, s)
		return
	}
	k.sessions.mu.Lock()
	s.dead = true
	s.timer.Stop()
	delete(k.sessions.byID, s.sb.ID())
	k.sessions.freedLocked()
	k.sessions.mu.Unlock()
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.cfg.DestroyTimeout)
	defer cancel()
	if err := s.sb.Destroy(dctx); err != nil {
		k.log.ErrorContext(ctx, "computemw: destroy session", "sandbox", s.sb.ID(), "error", err)
	}
}

// closeSessions marks every session dead and destroys the idle ones; busy
// ones are destroyed when their use ends (or by Close's final sweep).
func (k *Kit) closeSessions(ctx context.Context) {
	if k.shared() {
		k.closeShared(ctx)
		return
	}
	k.sessions.mu.Lock()
	k.sessions.closed = true
	var idle []*session
	for _, s := range k.sessions.byID {
		s.dead = true
		if s.inUse == 0 {
			idle = append(idle, s)
		}
	}
	k.sessions.mu.Unlock()
	for _, s := range idle {
		k.destroySession(ctx, s)
	}
}

// ListSessions returns the caller's live sessions (ctx from [Kit.Admit]),
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
	owner := k.owner(ctx)
	if k.shared() {
		return k.listShared(ctx, owner)
	}
	k.sessions.mu.Lock()
	list := make([]SessionInfo, 0, len(k.sessions.byID))
	for _, s := range k.sessions.byID {
		if s.owner == owner && !s.dead {
			list = append(list, s.info())
		}
	}
	k.sessions.mu.Unlock()
	slices.SortFunc(list, func(a, b SessionInfo) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return list, nil
}

// Session returns one of the caller's sessions (ctx from [Kit.Admit]).
// Looking a session up is a use: its lifetime restarts, which is what
// POST /sandboxes/{id}/keepalive does. Another caller's session, or one
// that is gone, is NOT_FOUND.
func (k *Kit) sessionInfo(ctx context.Context, id string) (SessionInfo, error) {
	s, release, err := k.session(ctx, id)
	if err != nil {
		return SessionInfo{}, err
	}
	defer release()
	k.sessions.mu.Lock()
	defer k.sessions.mu.Unlock()
	return s.info(), nil
}

package computemw

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Session sandboxes outlive a request: created with POST /sandboxes, used
// by ID, kept alive by use or POST /sandboxes/{id}/keepalive, destroyed by
// DELETE, by their TTL, or by Close. A session belongs to the principal who
// created it; to anyone else it does not exist (404). Without
// authentication every caller is the same anonymous owner, and the random
// 64-bit IDs are the only protection.

// SessionInfo describes a session sandbox.
type SessionInfo struct {
	SandboxID string            `json:"sandboxId"`
	Provider  string            `json:"provider"`
	Status    string            `json:"status"` // "running"
	CreatedAt time.Time         `json:"createdAt"`
	ExpiresAt time.Time         `json:"expiresAt"`
	Metadata  map[string]string `json:"metadata,omitempty"`
}

// CreateSessionRequest is the body of POST /sandboxes.
type CreateSessionRequest struct {
	Provider string            `json:"provider,omitempty"`
	Language string            `json:"language,omitempty"`
	Template string            `json:"template,omitempty"`
	Timeout  *float64          `json:"timeout,omitempty"` // TTL in milliseconds
	Metadata map[string]string `json:"metadata,omitempty"`
}

type session struct {
	sb      Sandbox
	owner   string
	created time.Time
	ttl     time.Duration
	meta    map[string]string

	// guarded by sessions.mu
	expires time.Time
	timer   *time.Timer
	inUse   int
	dead    bool // expired or closing: destroy when the last use ends
}

type sessions struct {
	mu      sync.Mutex
	byID    map[string]*session
	pending map[string]int // sessions being created, by owner
}

func (s *session) info() SessionInfo {
	return SessionInfo{SandboxID: s.sb.ID(), Provider: s.sb.Provider(), Status: "running",
		CreatedAt: s.created.UTC(), ExpiresAt: s.expires.UTC(), Metadata: s.meta}
}

// sessionTTL converts a requested TTL in milliseconds.
func (k *Kit) sessionTTL(ms *float64) (time.Duration, error) {
	if ms == nil {
		return k.cfg.SessionTTL, nil
	}
	if *ms <= 0 || *ms != *ms {
		return 0, Errorf(CodeBadRequest, "field \"timeout\" must be a positive number of milliseconds")
	}
	if *ms > float64(k.cfg.MaxSessionTTL.Milliseconds()) {
		return 0, Errorf(CodeBadRequest, "field \"timeout\" exceeds the maximum session lifetime of %d ms", k.cfg.MaxSessionTTL.Milliseconds())
	}
	return time.Duration(*ms * float64(time.Millisecond)), nil
}

func (k *Kit) handleCreateSession(ctx context.Context, r *Request) (*Response, error) {
	var req CreateSessionRequest
	if err := DecodeJSON(r.Body, k.cfg.MaxBodyBytes, &req); err != nil {
		return nil, err
	}
	ttl, err := k.sessionTTL(req.Timeout)
	if err != nil {
		return nil, err
	}
	if len(req.Metadata) > 32 {
		return nil, Errorf(CodeBadRequest, "field \"metadata\" has more than 32 entries")
	}
	template := req.Template
	if template == "" {
		template = req.Language
	}
	p, err := k.Provider(req.Provider)
	if err != nil {
		return nil, err
	}
	if template != "" {
		if err := checkLanguage(p, template); err != nil {
			return nil, err
		}
	}
	a := &Action{Op: OpSessions, Provider: p.Name(), Language: template, Timeout: k.cfg.DefaultTimeout,
		Create: CreateOptions{Template: template, Metadata: req.Metadata}}
	if err := k.authorize(ctx, a); err != nil {
		return nil, err
	}
	owner := principalID(ctx)
	if err := k.sessionSlot(owner); err != nil {
		k.rejected(ctx, OpSessions, err)
		return nil, err
	}
	sb, err := k.Create(ctx, a.Provider, a.Create)
	if err != nil {
		k.sessionSlotDone(owner)
		return nil, k.notRun(ctx, a, err)
	}
	if !k.Ready() { // Close began while the sandbox was being created
		k.sessionSlotDone(owner)
		_ = sb.Destroy(context.WithoutCancel(ctx))
		return nil, &Error{Code: CodeUnavailable, Message: "shutting down", RetryAfter: capacityRetryAfter}
	}
	s := &session{sb: sb, owner: owner, created: time.Now(), ttl: ttl, meta: maps.Clone(req.Metadata)}
	k.sessions.mu.Lock()
	k.sessions.dropPending(owner)
	s.expires = s.created.Add(ttl)
	s.timer = time.AfterFunc(ttl, func() { k.expireSession(s) })
	k.sessions.byID[sb.ID()] = s
	info := s.info()
	k.sessions.mu.Unlock()
	return JSON(http.StatusCreated, info)
}

// sessionSlot checks the session limits for owner and holds a place for
// the session being created (sessions in creation count), so concurrent
// creates cannot overshoot; the place becomes the session, or is given
// back with sessionSlotDone.
func (k *Kit) sessionSlot(owner string) error {
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
	k.sessions.mu.Lock()
	defer k.sessions.mu.Unlock()
	k.sessions.dropPending(owner)
}

// dropPending ends a creation of owner's; ss.mu is held.
func (ss *sessions) dropPending(owner string) {
	if ss.pending[owner]--; ss.pending[owner] <= 0 {
		delete(ss.pending, owner)
	}
}

// session returns the caller's live session id, marked in use; release
// ends the use (and destroys a session that expired meanwhile).
func (k *Kit) session(ctx context.Context, id string) (*session, func(), error) {
	owner := principalID(ctx)
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
	k.sessions.mu.Lock()
	s.dead = true
	s.timer.Stop()
	delete(k.sessions.byID, s.sb.ID())
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
	k.sessions.mu.Lock()
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

func (k *Kit) handleListSessions(ctx context.Context, _ *Request) (*Response, error) {
	if err := k.authorize(ctx, &Action{Op: OpSessions}); err != nil {
		return nil, err
	}
	owner := principalID(ctx)
	k.sessions.mu.Lock()
	list := make([]SessionInfo, 0, len(k.sessions.byID))
	for _, s := range k.sessions.byID {
		if s.owner == owner && !s.dead {
			list = append(list, s.info())
		}
	}
	k.sessions.mu.Unlock()
	slices.SortFunc(list, func(a, b SessionInfo) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return JSON(http.StatusOK, map[string]any{"sandboxes": list})
}

func (k *Kit) handleGetSession(ctx context.Context, r *Request) (*Response, error) {
	s, release, err := k.session(ctx, r.Param("id"))
	if err != nil {
		return nil, err
	}
	defer release()
	k.sessions.mu.Lock()
	info := s.info()
	k.sessions.mu.Unlock()
	return JSON(http.StatusOK, info)
}

// handleKeepalive serves POST /sandboxes/{id}/keepalive: using a session
// renews its TTL, so this is a use that does nothing else.
func (k *Kit) handleKeepalive(ctx context.Context, r *Request) (*Response, error) {
	return k.handleGetSession(ctx, r)
}

func (k *Kit) handleDeleteSession(ctx context.Context, r *Request) (*Response, error) {
	s, release, err := k.session(ctx, r.Param("id"))
	if err != nil {
		return nil, err
	}
	release()
	k.destroySession(ctx, s)
	return &Response{Status: http.StatusNoContent, Header: http.Header{}}, nil
}

// sessionRoute adapts a stateless operation to /sandboxes/{id}/...: the
// body's sandboxId is the path's.
func (k *Kit) sessionRoute(h HandlerFunc) HandlerFunc {
	return func(ctx context.Context, r *Request) (*Response, error) {
		return h(withSessionID(ctx, r.Param("id")), r)
	}
}

var sessionIDKey = &contextKey{"session-id"}

func withSessionID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, sessionIDKey, id)
}

// targetID is the session a request targets: the path's, else the body's.
func targetID(ctx context.Context, fromBody string) string {
	if id, ok := ctx.Value(sessionIDKey).(string); ok {
		return id
	}
	return fromBody
}

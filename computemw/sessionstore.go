package computemw

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// SessionRecord is what a [SessionStore] keeps of one session: enough for
// any kit instance to find, authorize, keep alive and destroy it.
type SessionRecord struct {
	// ID is the sandbox's ID at its provider.
	ID string
	// Provider is the provider's registry name.
	Provider string
	// Owner is the key of the caller who owns the session.
	Owner string
	// Instance is the InstanceID of the kit that created the session, and
	// InstanceURL that kit's Config.InstanceURL ("" when it has none).
	Instance    string
	InstanceURL string
	// CreatedAt is when the session was created; ExpiresAt when it ends
	// unless used again; TTL how far each use pushes ExpiresAt.
	CreatedAt time.Time
	ExpiresAt time.Time
	TTL       time.Duration
	// Deadline, when not zero, is when the session ends however it is
	// used (the caller's session lifetime cap): ExpiresAt is never set
	// past it.
	Deadline time.Time
	// Metadata is the caller's metadata.
	Metadata map[string]string
}

// SessionLimits are the session limits a [SessionStore] holds when it
// reserves a place: Total live sessions in all, PerOwner per owner.
type SessionLimits struct {
	Total    int
	PerOwner int
}

// Errors a [SessionStore] returns (possibly wrapped).
var (
	// ErrSessionNotFound: no record has that ID.
	ErrSessionNotFound = errors.New("computemw: session not found")
	// ErrSessionsFull: SessionLimits.Total sessions are live.
	ErrSessionsFull = errors.New("computemw: session capacity reached")
	// ErrOwnerSessionsFull: the owner has SessionLimits.PerOwner live
	// sessions.
	ErrOwnerSessionsFull = errors.New("computemw: the owner's session limit is reached")
)

// SessionStore is the session book: it keeps every session's record and
// holds the session limits (Config.SessionStore). Without one, the kit
// keeps its own in this process's memory; a shared one (stores/redisstore,
// stores/pgstore) lets instances behind a load balancer serve any session
// of a remote provider and hold the limits together. A record and a
// reservation count towards the limits while their expiry is in the
// future. Every method is safe for concurrent use by many instances.
type SessionStore interface {
	// Reserve holds a place for a session of owner being created, when
	// fewer than lim.Total records and places are live in all and fewer
	// than lim.PerOwner of owner's — atomically across instances — and
	// returns its token. The place lapses at until unless committed.
	// Past a limit it fails with ErrSessionsFull or ErrOwnerSessionsFull.
	Reserve(ctx context.Context, owner string, lim SessionLimits, until time.Time) (token string, err error)
	// Commit replaces the place token (of rec.Owner) with rec.
	Commit(ctx context.Context, token string, rec SessionRecord) error
	// Release gives back owner's place token whose session was not made.
	Release(ctx context.Context, owner, token string) error
	// Get returns the record id, or ErrSessionNotFound.
	Get(ctx context.Context, id string) (SessionRecord, error)
	// Touch sets record id's expiry, or fails with ErrSessionNotFound.
	Touch(ctx context.Context, id string, expires time.Time) error
	// Delete removes record id and reports whether this call removed it
	// (of several instances deleting one record, one gets true: that one
	// destroys the sandbox).
	Delete(ctx context.Context, id string) (bool, error)
	// List returns owner's records that have not expired at now.
	List(ctx context.Context, owner string, now time.Time) ([]SessionRecord, error)
	// Expired returns at most limit records whose expiry is not after now,
	// and drops the lapsed places.
	Expired(ctx context.Context, now time.Time, limit int) ([]SessionRecord, error)
}

// Attacher is implemented by providers whose sandboxes live on a remote
// service, reachable from any kit instance: Attach opens a handle on a
// running sandbox by its ID (without creating anything). With a shared
// Config.SessionStore, an instance that receives a request for a session
// it does not hold attaches to it. A sandbox that no longer exists is an
// error of class ErrNotFound.
type Attacher interface {
	Attach(ctx context.Context, id string) (Sandbox, error)
}

// Detacher is implemented by [Attacher] providers that keep track of their
// sandboxes (to destroy them at Close): Detach forgets one without
// destroying it, when the kit lets go of a session that other instances
// still serve (at Close, or after another instance destroyed it).
type Detacher interface {
	Detach(sb Sandbox)
}

// memorySessionStore is a [SessionStore] in this process's memory: kits
// that share one (in one process) share their sessions. The zero value is
// ready to use.
type memorySessionStore struct {
	mu     sync.Mutex
	recs   map[string]SessionRecord
	places map[string]memPlace
}

type memPlace struct {
	owner string
	until time.Time
}

var _ SessionStore = (*memorySessionStore)(nil)

func (m *memorySessionStore) initLocked() {
	if m.recs == nil {
		m.recs = map[string]SessionRecord{}
		m.places = map[string]memPlace{}
	}
}

// Reserve implements SessionStore.
func (m *memorySessionStore) Reserve(_ context.Context, owner string, lim SessionLimits, until time.Time) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.initLocked()
	now := time.Now()
	total, mine := 0, 0
	for _, r := range m.recs {
		if r.ExpiresAt.After(now) {
			total++
			if r.Owner == owner {
				mine++
			}
		}
	}
	for _, p := range m.places {
		if p.until.After(now) {
			total++
			if p.owner == owner {
				mine++
			}
		}
	}
	if total >= lim.Total {
		return "", ErrSessionsFull
	}
	if mine >= lim.PerOwner {
		return "", ErrOwnerSessionsFull
	}
	token := randomHex(16)
	m.places[token] = memPlace{owner: owner, until: until}
	return token, nil
}

// Commit implements SessionStore.
func (m *memorySessionStore) Commit(_ context.Context, token string, rec SessionRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.initLocked()
	delete(m.places, token)
	rec.Metadata = maps.Clone(rec.Metadata)
	m.recs[rec.ID] = rec
	return nil
}

// Release implements SessionStore.
func (m *memorySessionStore) Release(_ context.Context, _, token string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.places, token)
	return nil
}

// Get implements SessionStore.
func (m *memorySessionStore) Get(_ context.Context, id string) (SessionRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.recs[id]
	if !ok {
		return SessionRecord{}, ErrSessionNotFound
	}
	r.Metadata = maps.Clone(r.Metadata)
	return r, nil
}

// Touch implements SessionStore.
func (m *memorySessionStore) Touch(_ context.Context, id string, expires time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.recs[id]
	if !ok {
		return ErrSessionNotFound
	}
	r.ExpiresAt = expires
	m.recs[id] = r
	return nil
}

// Delete implements SessionStore.
func (m *memorySessionStore) Delete(_ context.Context, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.recs[id]
	delete(m.recs, id)
	return ok, nil
}

// List implements SessionStore.
func (m *memorySessionStore) List(_ context.Context, owner string, now time.Time) ([]SessionRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []SessionRecord
	for _, r := range m.recs {
		if r.Owner == owner && r.ExpiresAt.After(now) {
			r.Metadata = maps.Clone(r.Metadata)
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b SessionRecord) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Expired implements SessionStore.
func (m *memorySessionStore) Expired(_ context.Context, now time.Time, limit int) ([]SessionRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for t, p := range m.places {
		if !p.until.After(now) {
			delete(m.places, t)
		}
	}
	var out []SessionRecord
	for _, r := range m.recs {
		if len(out) >= limit {
			break
		}
		if !r.ExpiresAt.After(now) {
			out = append(out, r)
		}
	}
	return out, nil
}

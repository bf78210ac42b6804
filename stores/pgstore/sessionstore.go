package pgstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/internal/sessiontoken"
)

// DefaultSessionTable is the table that holds session records unless
// SessionOptions say otherwise.
const DefaultSessionTable = "computemw_sessions"

// SessionOptions configure [NewSessionStore].
type SessionOptions struct {
	// Table is the table name, optionally schema-qualified; default
	// DefaultSessionTable. It is created if missing (the schema must
	// exist).
	Table string
}

// SessionStore is a computemw.SessionStore in PostgreSQL, for
// Config.SessionStore: kit instances sharing the database serve each
// other's sessions and hold the session limits together. One row per
// session and per reservation; a reservation counts and inserts inside a
// transaction holding an advisory lock, so concurrent reservations from
// any number of instances never overshoot a limit.
type SessionStore struct {
	pool  *pgxpool.Pool
	table string // quoted
	lock  int64  // the advisory lock of reservations
}

var _ computemw.SessionStore = (*SessionStore)(nil)

// NewSessionStore returns a session store on pool, creating its table if
// missing. The caller owns pool and closes it.
func NewSessionStore(ctx context.Context, pool *pgxpool.Pool, opts SessionOptions) (*SessionStore, error) {
	name := opts.Table
	if name == "" {
		name = DefaultSessionTable
	}
	parts := strings.Split(name, ".")
	if len(parts) > 2 {
		return nil, fmt.Errorf("pgstore: table %q: want name or schema.name", name)
	}
	for _, p := range parts {
		if !identifier.MatchString(p) {
			return nil, fmt.Errorf("pgstore: table %q: %q is not a plain identifier", name, p)
		}
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte("computemw/pgstore/sessions/" + name))
	s := &SessionStore{pool: pool, table: pgx.Identifier(parts).Sanitize(), lock: int64(h.Sum64())}
	if err := s.migrate(ctx, parts[len(parts)-1]); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *SessionStore) migrate(ctx context.Context, base string) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, s.lock); err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS ` + s.table + ` (
  id text PRIMARY KEY,
  owner text NOT NULL,
  place boolean NOT NULL DEFAULT false,
  provider text NOT NULL DEFAULT '',
  instance text NOT NULL DEFAULT '',
  instance_url text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  ttl_ms bigint NOT NULL DEFAULT 0,
  metadata jsonb NOT NULL DEFAULT '{}'
)`,
		`ALTER TABLE ` + s.table + ` ADD COLUMN IF NOT EXISTS deadline timestamptz`,
		`CREATE INDEX IF NOT EXISTS ` + pgx.Identifier{base + "_owner"}.Sanitize() + ` ON ` + s.table + ` (owner, expires_at)`,
		`CREATE INDEX IF NOT EXISTS ` + pgx.Identifier{base + "_expires"}.Sanitize() + ` ON ` + s.table + ` (expires_at)`,
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("pgstore: create table %s: %w", s.table, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	return nil
}

func placeID(token string) string { return "r:" + token }

// Reserve implements computemw.SessionStore.
func (s *SessionStore) Reserve(ctx context.Context, owner string, lim computemw.SessionLimits, until time.Time) (string, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return "", fmt.Errorf("pgstore: reserve a session: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, s.lock); err != nil {
		return "", fmt.Errorf("pgstore: reserve a session: %w", err)
	}
	var total, mine int
	err = tx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE owner = $1) FROM `+s.table+` WHERE expires_at > $2`,
		owner, time.Now()).Scan(&total, &mine)
	if err != nil {
		return "", fmt.Errorf("pgstore: reserve a session: %w", err)
	}
	if total >= lim.Total {
		return "", computemw.ErrSessionsFull
	}
	if mine >= lim.PerOwner {
		return "", computemw.ErrOwnerSessionsFull
	}
	token := sessiontoken.New()
	if _, err := tx.Exec(ctx, `INSERT INTO `+s.table+` (id, owner, place, expires_at) VALUES ($1, $2, true, $3)`,
		placeID(token), owner, until); err != nil {
		return "", fmt.Errorf("pgstore: reserve a session: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return "", fmt.Errorf("pgstore: reserve a session: %w", err)
	}
	return token, nil
}

// Commit implements computemw.SessionStore.
func (s *SessionStore) Commit(ctx context.Context, token string, rec computemw.SessionRecord) error {
	meta := rec.Metadata
	if meta == nil {
		meta = map[string]string{}
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: commit a session: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `DELETE FROM `+s.table+` WHERE id = $1 AND place`, placeID(token)); err != nil {
		return fmt.Errorf("pgstore: commit a session: %w", err)
	}
	var deadline *time.Time
	if !rec.Deadline.IsZero() {
		deadline = &rec.Deadline
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+s.table+` (id, owner, provider, instance, instance_url, created_at, expires_at, ttl_ms, metadata, deadline)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, rec.ID, rec.Owner, rec.Provider, rec.Instance, rec.InstanceURL,
		rec.CreatedAt, rec.ExpiresAt, rec.TTL.Milliseconds(), meta, deadline); err != nil {
		return fmt.Errorf("pgstore: commit a session: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgstore: commit a session: %w", err)
	}
	return nil
}

// Release implements computemw.SessionStore.
func (s *SessionStore) Release(ctx context.Context, _, token string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM `+s.table+` WHERE id = $1 AND place`, placeID(token)); err != nil {
		return fmt.Errorf("pgstore: release a session place: %w", err)
	}
	return nil
}

const recordColumns = `id, owner, provider, instance, instance_url, created_at, expires_at, ttl_ms, metadata, deadline`

func scanRecord(row pgx.Row) (computemw.SessionRecord, error) {
	var r computemw.SessionRecord
	var ttl int64
	var deadline *time.Time
	err := row.Scan(&r.ID, &r.Owner, &r.Provider, &r.Instance, &r.InstanceURL, &r.CreatedAt, &r.ExpiresAt, &ttl, &r.Metadata, &deadline)
	r.TTL = time.Duration(ttl) * time.Millisecond
	if deadline != nil {
		r.Deadline = *deadline
	}
	return r, err
}

// Get implements computemw.SessionStore.
func (s *SessionStore) Get(ctx context.Context, id string) (computemw.SessionRecord, error) {
	r, err := scanRecord(s.pool.QueryRow(ctx, `SELECT `+recordColumns+` FROM `+s.table+` WHERE id = $1 AND NOT place`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return computemw.SessionRecord{}, computemw.ErrSessionNotFound
	}
	if err != nil {
		return computemw.SessionRecord{}, fmt.Errorf("pgstore: get a session: %w", err)
	}
	return r, nil
}

// Touch implements computemw.SessionStore.
func (s *SessionStore) Touch(ctx context.Context, id string, expires time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE `+s.table+` SET expires_at = $2 WHERE id = $1 AND NOT place`, id, expires)
	if err != nil {
		return fmt.Errorf("pgstore: touch a session: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return computemw.ErrSessionNotFound
	}
	return nil
}

// Delete implements computemw.SessionStore.
func (s *SessionStore) Delete(ctx context.Context, id string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM `+s.table+` WHERE id = $1 AND NOT place`, id)
	if err != nil {
		return false, fmt.Errorf("pgstore: delete a session: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

func (s *SessionStore) query(ctx context.Context, q string, args ...any) ([]computemw.SessionRecord, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []computemw.SessionRecord
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// List implements computemw.SessionStore.
func (s *SessionStore) List(ctx context.Context, owner string, now time.Time) ([]computemw.SessionRecord, error) {
	out, err := s.query(ctx, `SELECT `+recordColumns+` FROM `+s.table+` WHERE owner = $1 AND NOT place AND expires_at > $2 ORDER BY created_at, id`, owner, now)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list sessions: %w", err)
	}
	return out, nil
}

// Expired implements computemw.SessionStore.
func (s *SessionStore) Expired(ctx context.Context, now time.Time, limit int) ([]computemw.SessionRecord, error) {
	if _, err := s.pool.Exec(ctx, `DELETE FROM `+s.table+` WHERE place AND expires_at <= $1`, now); err != nil {
		return nil, fmt.Errorf("pgstore: expired sessions: %w", err)
	}
	out, err := s.query(ctx, `SELECT `+recordColumns+` FROM `+s.table+` WHERE NOT place AND expires_at <= $1 ORDER BY expires_at LIMIT $2`, now, limit)
	if err != nil {
		return nil, fmt.Errorf("pgstore: expired sessions: %w", err)
	}
	return out, nil
}

// Package pgstore keeps the kit's quota usage in PostgreSQL: a
// quota.Store shared by every instance that uses the database,
// durable across restarts.
//
//	pool, err := pgxpool.New(ctx, "postgres://user@db/app")
//	store, err := pgstore.New(ctx, pool, pgstore.Options{})
//	quota, err := quota.New(quota.Config{Store: store})
//
// It lives in its own package so that users of the other stores do not
// compile a PostgreSQL driver.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"regexp"
	"strings"
	"time"

	"github.com/computemw/kit/computemw/quota"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultTable is the table that holds usage unless Options say otherwise.
const DefaultTable = "computemw_quota_usage"

// Options configure [New].
type Options struct {
	// Table is the table name, optionally schema-qualified
	// ("billing.quota_usage"); default DefaultTable. It is created if
	// missing (the schema must exist).
	Table string
}

// Store is a quota.Store in PostgreSQL: one row per key and
// period, updated by INSERT ... ON CONFLICT DO UPDATE ... RETURNING, which
// PostgreSQL runs atomically (no lost update between instances).
type Store struct {
	pool  *pgxpool.Pool
	table string // quoted
	add   string
	get   string
}

var _ quota.Store = (*Store)(nil)

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// New returns a store on pool, creating its table if missing. The caller
// owns pool and closes it.
func New(ctx context.Context, pool *pgxpool.Pool, opts Options) (*Store, error) {
	name := opts.Table
	if name == "" {
		name = DefaultTable
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
	table := pgx.Identifier(parts).Sanitize()
	s := &Store{
		pool:  pool,
		table: table,
		add: `INSERT INTO ` + table + ` AS u (key, period_start, period_end, executions, cpu_seconds, memory_mb_seconds)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (key, period_start) DO UPDATE SET
  executions = u.executions + EXCLUDED.executions,
  cpu_seconds = u.cpu_seconds + EXCLUDED.cpu_seconds,
  memory_mb_seconds = u.memory_mb_seconds + EXCLUDED.memory_mb_seconds
RETURNING executions, cpu_seconds, memory_mb_seconds`,
		get: `SELECT executions, cpu_seconds, memory_mb_seconds FROM ` + table + ` WHERE key = $1 AND period_start = $2`,
	}
	if err := s.migrate(ctx, name); err != nil {
		return nil, err
	}
	return s, nil
}

// migrate creates the table if missing. An advisory lock keeps instances
// starting together from racing on CREATE TABLE IF NOT EXISTS.
func (s *Store) migrate(ctx context.Context, name string) error {
	h := fnv.New64a()
	_, _ = h.Write([]byte("computemw/pgstore/" + name))
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(h.Sum64())); err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+s.table+` (
  key text NOT NULL,
  period_start timestamptz NOT NULL,
  period_end timestamptz NOT NULL,
  executions bigint NOT NULL DEFAULT 0,
  cpu_seconds double precision NOT NULL DEFAULT 0,
  memory_mb_seconds double precision NOT NULL DEFAULT 0,
  PRIMARY KEY (key, period_start)
)`); err != nil {
		return fmt.Errorf("pgstore: create table %s: %w", s.table, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	return nil
}

// Add implements quota.Store.
func (s *Store) Add(ctx context.Context, key string, p quota.Period, d quota.Usage) (quota.Usage, error) {
	var u quota.Usage
	err := s.pool.QueryRow(ctx, s.add, key, p.Start, p.End, d.Executions, d.CPUSeconds, d.MemoryMBSeconds).
		Scan(&u.Executions, &u.CPUSeconds, &u.MemoryMBSeconds)
	if err != nil {
		return quota.Usage{}, fmt.Errorf("pgstore: add: %w", err)
	}
	return u, nil
}

// Get implements quota.Store.
func (s *Store) Get(ctx context.Context, key string, p quota.Period) (quota.Usage, error) {
	var u quota.Usage
	err := s.pool.QueryRow(ctx, s.get, key, p.Start).Scan(&u.Executions, &u.CPUSeconds, &u.MemoryMBSeconds)
	if errors.Is(err, pgx.ErrNoRows) {
		return quota.Usage{}, nil
	}
	if err != nil {
		return quota.Usage{}, fmt.Errorf("pgstore: get: %w", err)
	}
	return u, nil
}

// Prune deletes the usage of periods that ended before before, and
// returns how many rows it deleted. Run it now and then (daily, say).
func (s *Store) Prune(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM `+s.table+` WHERE period_end < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("pgstore: prune: %w", err)
	}
	return tag.RowsAffected(), nil
}

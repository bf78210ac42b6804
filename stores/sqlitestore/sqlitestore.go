// Package sqlitestore keeps the kit's quota usage in an SQLite file: the
// embedded, durable store for a single instance (or several processes on
// one host), with no server to run. It uses modernc.org/sqlite, a pure-Go
// SQLite, so the build needs no C compiler.
//
//	store, err := sqlitestore.Open("/var/lib/myapp/usage.db")
//	defer store.Close()
//	quota, err := quota.New(quota.Config{Store: store})
//
// It lives in its own package so that users of the other stores do not
// compile an SQLite engine.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/computemw/kit/computemw/quota"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// Store is a quota.Store in SQLite: one row per key and period,
// updated by INSERT ... ON CONFLICT DO UPDATE ... RETURNING, one atomic
// statement. The database runs in WAL mode with a busy timeout, so other
// processes may share the file.
type Store struct {
	db *sql.DB
}

var _ quota.Store = (*Store)(nil)

const schema = `CREATE TABLE IF NOT EXISTS quota_usage (
  key TEXT NOT NULL,
  period_start INTEGER NOT NULL,
  period_end INTEGER NOT NULL,
  executions INTEGER NOT NULL DEFAULT 0,
  cpu_seconds REAL NOT NULL DEFAULT 0,
  memory_mb_seconds REAL NOT NULL DEFAULT 0,
  PRIMARY KEY (key, period_start)
)`

const addSQL = `INSERT INTO quota_usage (key, period_start, period_end, executions, cpu_seconds, memory_mb_seconds)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (key, period_start) DO UPDATE SET
  executions = executions + excluded.executions,
  cpu_seconds = cpu_seconds + excluded.cpu_seconds,
  memory_mb_seconds = memory_mb_seconds + excluded.memory_mb_seconds
RETURNING executions, cpu_seconds, memory_mb_seconds`

const getSQL = `SELECT executions, cpu_seconds, memory_mb_seconds FROM quota_usage WHERE key = ? AND period_start = ?`

// uriPath escapes what a file: URI would otherwise read as syntax.
var uriPath = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

// Open opens (creating if needed) the database at path and its table.
func Open(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlitestore: path is required")
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "synchronous(NORMAL)")
	db, err := sql.Open("sqlite", "file:"+uriPath.Replace(path)+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	// One writer at a time is all SQLite allows; a single connection
	// queues writers in Go instead of in busy retries.
	db.SetMaxOpenConns(1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlitestore: create table in %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Add implements quota.Store.
func (s *Store) Add(ctx context.Context, key string, p quota.Period, d quota.Usage) (quota.Usage, error) {
	var u quota.Usage
	err := s.db.QueryRowContext(ctx, addSQL, key, p.Start.Unix(), p.End.Unix(), d.Executions, d.CPUSeconds, d.MemoryMBSeconds).
		Scan(&u.Executions, &u.CPUSeconds, &u.MemoryMBSeconds)
	if err != nil {
		return quota.Usage{}, fmt.Errorf("sqlitestore: add: %w", err)
	}
	return u, nil
}

// Get implements quota.Store.
func (s *Store) Get(ctx context.Context, key string, p quota.Period) (quota.Usage, error) {
	var u quota.Usage
	err := s.db.QueryRowContext(ctx, getSQL, key, p.Start.Unix()).Scan(&u.Executions, &u.CPUSeconds, &u.MemoryMBSeconds)
	if errors.Is(err, sql.ErrNoRows) {
		return quota.Usage{}, nil
	}
	if err != nil {
		return quota.Usage{}, fmt.Errorf("sqlitestore: get: %w", err)
	}
	return u, nil
}

// Prune deletes the usage of periods that ended before before, and
// returns how many rows it deleted.
func (s *Store) Prune(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM quota_usage WHERE period_end < ?`, before.Unix())
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: prune: %w", err)
	}
	return res.RowsAffected()
}

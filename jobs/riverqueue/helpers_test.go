package riverqueue_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/fakeprovider"
	"github.com/computemw/kit/jobs"
	"github.com/computemw/kit/jobs/riverqueue"
	"github.com/computemw/kit/providers/local"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// dsn is the shared PostgreSQL of the test machine.
func dsn() string {
	if u := os.Getenv("COMPUTEMW_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

func randHex() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// database makes a fresh schema with River's tables and the test's runs
// table, dropped at cleanup.
func database(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := pgxpool.New(ctx, dsn())
	if err == nil {
		err = p.Ping(ctx)
	}
	computemwtest.Require(t, err == nil, fmt.Sprintf("postgres not reachable at 127.0.0.1:5432: %v", err))
	defer p.Close()
	schema := "cmwjobs_" + randHex()
	if _, err := p.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, dsn())
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	if err := riverqueue.Migrate(ctx, p, schema); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Exec(ctx, `CREATE TABLE `+schema+`.runs (job text NOT NULL, instance text NOT NULL,
		started timestamptz NOT NULL DEFAULT clock_timestamp(), finished timestamptz)`); err != nil {
		t.Fatal(err)
	}
	return schema
}

// instance is one kit instance on the shared schema: a kit over real
// bwrap sandboxes whose every run is recorded in the runs table, and a
// job service on the River queue.
type instance struct {
	id    string
	pool  *pgxpool.Pool
	kit   *computemw.Kit
	svc   *jobs.Service
	queue *riverqueue.Queue
	base  string
	close func() error
}

// startInstance starts an instance; its close stops everything and
// reports what was left behind.
// With fake, the sandboxes are the fake provider's (no processes), for
// tests of the queue alone.
// base is the local provider's BaseDir ("" for a new one, removed at
// close).
func startInstance(ctx context.Context, schema, id string, fake bool, base string) (*instance, error) {
	in := &instance{id: id}
	pool, err := pgxpool.New(ctx, dsn()+"&pool_max_conns=12&search_path="+schema)
	if err != nil {
		return nil, err
	}
	in.pool = pool
	if base == "" {
		if base, err = baseDir(); err != nil {
			return nil, err
		}
	}
	in.base = base
	var prov computemw.Provider
	var fp *fakeprovider.Provider
	if fake {
		fp = fakeprovider.New("local")
		prov = fp
	} else if prov, err = local.New(local.Config{BaseDir: base, Logger: slog.New(slog.DiscardHandler)}); err != nil {
		return nil, err
	}
	record := &computemw.Hooks{
		ExecutionStarted: func(ctx context.Context, _ *computemw.Action) {
			_, _ = pool.Exec(context.WithoutCancel(ctx), `INSERT INTO runs (job, instance) VALUES ($1, $2)`,
				computemw.RequestIDFrom(ctx), id)
		},
		ExecutionFinished: func(ctx context.Context, _ *computemw.Action, _ *computemw.Result, _ error, _ time.Duration) {
			_, _ = pool.Exec(context.WithoutCancel(ctx), `UPDATE runs SET finished = clock_timestamp()
				WHERE job = $1 AND instance = $2 AND finished IS NULL`, computemw.RequestIDFrom(ctx), id)
		},
	}
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{prov}, Hooks: []*computemw.Hooks{record},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	in.kit = kit
	q, err := riverqueue.New(riverqueue.Config{Pool: pool, Schema: schema, InstanceID: id, Workers: 4,
		Heartbeat: 100 * time.Millisecond, LivenessTimeout: time.Second, FetchPollInterval: 100 * time.Millisecond, FetchCooldown: 5 * time.Millisecond,
		JobTimeout: time.Minute, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	in.queue = q
	svc, err := jobs.New(ctx, kit, jobs.Config{Queue: q, MaxQueuedPerCaller: -1, MaxBatch: 500})
	if err != nil {
		return nil, err
	}
	in.svc = svc
	in.close = func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := svc.Close(ctx)
		if cerr := kit.Close(ctx); cerr != nil {
			err = cerr
		}
		pool.Close()
		if fp != nil && fp.Live() != 0 {
			err = fmt.Errorf("%d fake sandboxes left", fp.Live())
		}
		left, _ := filepath.Glob(filepath.Join(base, "*"))
		left = slices.DeleteFunc(left, func(p string) bool { return filepath.Base(p) == "buildcache" })
		if len(left) != 0 && err == nil {
			err = fmt.Errorf("left behind: %v", left)
		}
		os.RemoveAll(base)
		return err
	}
	return in, nil
}

// baseDir makes a BaseDir for a local provider.
func baseDir() (string, error) {
	base, err := os.MkdirTemp("", "computemw-river-")
	if err != nil {
		return "", err
	}
	return base, os.Chmod(base, 0o711)
}

// reclaim removes what a killed instance's local provider left in base
// (workspaces, cgroups, processes), as the next provider on the same
// BaseDir does at start, and checks that nothing else remains.
func reclaim(base string) error {
	p, err := local.New(local.Config{BaseDir: base, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		return err
	}
	left, _ := filepath.Glob(filepath.Join(base, "*"))
	left = slices.DeleteFunc(left, func(p string) bool { return filepath.Base(p) == "buildcache" })
	os.RemoveAll(base)
	if len(left) != 0 {
		return fmt.Errorf("left behind by the killed instance: %v", left)
	}
	return nil
}

// waitFor polls cond until it holds, failing after two minutes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after two minutes: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

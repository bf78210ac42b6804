package pgstore_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/quota"
	"github.com/computemw/kit/stores/pgstore"
)

// dsn is the shared PostgreSQL of the test machine.
func dsn() string {
	if u := os.Getenv("COMPUTEMW_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// pool connects to PostgreSQL, skipping (failing under CI) when it is not
// there, and makes sure schema exists; the schema is dropped at cleanup.
func pool(t *testing.T, schema string) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	p, err := pgxpool.New(ctx, dsn())
	if err == nil {
		err = p.Ping(ctx)
	}
	computemwtest.Require(t, err == nil, fmt.Sprintf("postgres not reachable at 127.0.0.1:5432: %v", err))
	if _, err := p.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Close()
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
	return p
}

func open(t *testing.T, ns string) (*pgstore.Store, *pgxpool.Pool) {
	t.Helper()
	p := pool(t, ns)
	s, err := pgstore.New(context.Background(), p, pgstore.Options{Table: ns + ".usage"})
	if err != nil {
		t.Fatal(err)
	}
	return s, p
}

func TestQuotaStore(t *testing.T) {
	computemwtest.QuotaStoreSuite(t, func(t *testing.T, ns string) quota.Store {
		s, _ := open(t, ns)
		return s
	})
}

// TestSharedQuota runs two kits on two connection pools, as two
// instances.
func TestSharedQuota(t *testing.T) {
	computemwtest.SharedQuotaSuite(t, func(t *testing.T, ns string) quota.Store {
		s, _ := open(t, ns)
		return s
	})
}

func TestDurable(t *testing.T) {
	computemwtest.DurableQuotaSuite(t, func(t *testing.T, ns string) (quota.Store, func() error) {
		s, p := open(t, ns)
		return s, func() error { p.Close(); return nil }
	})
}

func TestPrune(t *testing.T) {
	ns := computemwtest.Namespace()
	s, _ := open(t, ns)
	ctx := context.Background()
	old := quota.Daily(time.Now().AddDate(0, 0, -3))
	cur := quota.Daily(time.Now())
	for _, p := range []quota.Period{old, cur} {
		if _, err := s.Add(ctx, "alice", p, quota.Usage{Executions: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.Prune(ctx, cur.Start); err != nil || n != 1 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	if u, _ := s.Get(ctx, "alice", cur); u.Executions != 1 {
		t.Errorf("current period pruned: %+v", u)
	}
}

func TestOptions(t *testing.T) {
	ns := computemwtest.Namespace()
	p := pool(t, ns)
	for _, table := range []string{"a.b.c", "bad-name", `x"; DROP TABLE y; --`, ""} {
		if table == "" {
			continue
		}
		if _, err := pgstore.New(context.Background(), p, pgstore.Options{Table: table}); err == nil {
			t.Errorf("table %q accepted", table)
		}
	}
	// Two instances starting at once both find the table.
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := pgstore.New(context.Background(), p, pgstore.Options{Table: ns + ".together"})
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

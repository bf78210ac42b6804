package sqlitestore_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/quota"
	"github.com/computemw/kit/stores/sqlitestore"
)

// opener opens stores in one directory: a namespace is a database file.
func opener(dir string) func(t *testing.T, ns string) (*sqlitestore.Store, func() error) {
	return func(t *testing.T, ns string) (*sqlitestore.Store, func() error) {
		t.Helper()
		s, err := sqlitestore.Open(filepath.Join(dir, ns+".db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s, s.Close
	}
}

func TestQuotaStore(t *testing.T) {
	open := opener(t.TempDir())
	computemwtest.QuotaStoreSuite(t, func(t *testing.T, ns string) quota.Store {
		s, _ := open(t, ns)
		return s
	})
}

// TestShared runs two kits, each with its own connection to one file, as
// two processes on one host.
func TestShared(t *testing.T) {
	open := opener(t.TempDir())
	computemwtest.SharedQuotaSuite(t, func(t *testing.T, ns string) quota.Store {
		s, _ := open(t, ns)
		return s
	})
}

func TestDurable(t *testing.T) {
	open := opener(t.TempDir())
	computemwtest.DurableQuotaSuite(t, func(t *testing.T, ns string) (quota.Store, func() error) {
		return open(t, ns)
	})
}

func TestPrune(t *testing.T) {
	s, _ := opener(t.TempDir())(t, "prune")
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

func TestOddPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a?b#c%20d.db")
	s, err := sqlitestore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Add(context.Background(), "k", quota.Daily(time.Now()), quota.Usage{Executions: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not at %s: %v", path, err)
	}
}

func TestOpenErrors(t *testing.T) {
	for _, path := range []string{"", filepath.Join(t.TempDir(), "missing", "dir", "x.db")} {
		if s, err := sqlitestore.Open(path); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", path)
		}
	}
}

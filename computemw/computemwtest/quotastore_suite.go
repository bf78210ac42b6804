package computemwtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"math"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ulule/limiter/v3"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/fakeprovider"
	"github.com/computemw/kit/computemw/quota"
	"github.com/computemw/kit/computemw/ratelimit"
)

// OpenQuotaStore opens a store of the implementation under test. Stores
// opened with the same namespace share their data (as instances sharing a
// database do); different namespaces are isolated. The opener closes what
// it opened at the test's cleanup.
type OpenQuotaStore func(t *testing.T, namespace string) quota.Store

// Namespace returns a random name for one test's keys, tables or files.
func Namespace() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "cmwtest_" + hex.EncodeToString(b[:])
}

// testPeriod is a period that ends well after any test.
func testPeriod() quota.Period { return quota.Daily(time.Now().Add(time.Hour)) }

// QuotaStoreSuite checks a [quota.Store] implementation: adds
// and gets, isolation of keys and periods, negative deltas (rollbacks),
// and that concurrent adds lose no update.
func QuotaStoreSuite(t *testing.T, open OpenQuotaStore) {
	ctx := context.Background()
	t.Run("add and get", func(t *testing.T) {
		s := open(t, Namespace())
		p := testPeriod()
		if u, err := s.Get(ctx, "alice", p); err != nil || u != (quota.Usage{}) {
			t.Fatalf("empty: %+v %v", u, err)
		}
		u, err := s.Add(ctx, "alice", p, quota.Usage{Executions: 1, CPUSeconds: 0.5, MemoryMBSeconds: 64})
		if err != nil || u != (quota.Usage{Executions: 1, CPUSeconds: 0.5, MemoryMBSeconds: 64}) {
			t.Fatalf("first add: %+v %v", u, err)
		}
		u, err = s.Add(ctx, "alice", p, quota.Usage{Executions: 2, CPUSeconds: 0.25})
		want := quota.Usage{Executions: 3, CPUSeconds: 0.75, MemoryMBSeconds: 64}
		if err != nil || u != want {
			t.Fatalf("second add: %+v %v, want %+v", u, err, want)
		}
		if u, err := s.Get(ctx, "alice", p); err != nil || u != want {
			t.Fatalf("get: %+v %v, want %+v", u, err, want)
		}
		u, err = s.Add(ctx, "alice", p, quota.Usage{Executions: -1})
		if err != nil || u.Executions != 2 {
			t.Fatalf("rollback: %+v %v", u, err)
		}
	})

	t.Run("keys and periods are separate", func(t *testing.T) {
		s := open(t, Namespace())
		p := testPeriod()
		next := quota.Daily(p.End)
		for _, c := range []struct {
			key string
			p   quota.Period
			n   int64
		}{{"alice", p, 1}, {"bob", p, 2}, {"alice", next, 4}, {"alice:x", p, 8}} {
			if _, err := s.Add(ctx, c.key, c.p, quota.Usage{Executions: c.n}); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range []struct {
			key string
			p   quota.Period
			n   int64
		}{{"alice", p, 1}, {"bob", p, 2}, {"alice", next, 4}, {"alice:x", p, 8}, {"carol", p, 0}} {
			if u, err := s.Get(ctx, c.key, c.p); err != nil || u.Executions != c.n {
				t.Errorf("%s in %v: %+v %v, want %d", c.key, c.p.Start, u, err, c.n)
			}
		}
	})

	t.Run("fractions", func(t *testing.T) {
		s := open(t, Namespace())
		p := testPeriod()
		var u quota.Usage
		for range 10 {
			var err error
			if u, err = s.Add(ctx, "alice", p, quota.Usage{CPUSeconds: 0.1, MemoryMBSeconds: 0.001}); err != nil {
				t.Fatal(err)
			}
		}
		if math.Abs(u.CPUSeconds-1) > 1e-9 || math.Abs(u.MemoryMBSeconds-0.01) > 1e-12 {
			t.Errorf("got %+v", u)
		}
	})

	t.Run("concurrent adds lose nothing", func(t *testing.T) {
		const n = 500
		s := open(t, Namespace())
		p := testPeriod()
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() {
				if _, err := s.Add(ctx, "alice", p, quota.Usage{Executions: 1, CPUSeconds: 0.25, MemoryMBSeconds: 0.5}); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		want := quota.Usage{Executions: n, CPUSeconds: n * 0.25, MemoryMBSeconds: n * 0.5}
		if u, err := s.Get(ctx, "alice", p); err != nil || u != want {
			t.Errorf("got %+v %v, want %+v", u, err, want)
		}
	})
}

// Measured is the usage every execution reports in the shared suites:
// binary fractions, so that sums are exact in any store.
var Measured = computemw.Result{CPUTime: 250 * time.Millisecond, PeakMemory: 2 << 20, ExecutionTime: 500 * time.Millisecond}

// quotaKit is a kit guarded by a Quota over store only, with room for
// many sandboxes at once.
func quotaKit(t testing.TB, store quota.Store, limits quota.Limits) (*computemw.Kit, *fakeprovider.Provider) {
	q, err := quota.New(quota.Config{
		Store: store, Plans: map[string]quota.Limits{"free": limits}, Period: quota.Daily,
	})
	if err != nil {
		t.Fatal(err)
	}
	return MeteredKit(t, computemw.Config{MaxSandboxes: 4096, Policies: []computemw.Policy{q}, Hooks: []*computemw.Hooks{q.Hooks()}}, Measured)
}

// spread runs n /exec requests for principal concurrently, alternating
// between kits, and counts the responses by status.
func spread(principal string, n int, kits ...*computemw.Kit) map[int]int {
	ctx := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: principal, Plan: "free"})
	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		wg       sync.WaitGroup
	)
	for i := range n {
		wg.Go(func() {
			resp := ServePath(ctx, kits[i%len(kits)], http.MethodPost, "/exec", `{"command":"echo x"}`, nil)
			mu.Lock()
			statuses[resp.Status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	return statuses
}

// usageOf reads principal's usage through GET /usage of kit.
func usageOf(t testing.TB, kit *computemw.Kit, principal string) quota.Usage {
	t.Helper()
	ctx := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: principal, Plan: "free"})
	resp := ServePath(ctx, kit, http.MethodGet, "/usage", "", nil)
	if resp.Status != http.StatusOK {
		t.Fatalf("GET /usage: %d %s", resp.Status, resp.Body)
	}
	var rep quota.Report
	if err := json.Unmarshal(resp.Body, &rep); err != nil {
		t.Fatal(err)
	}
	return rep.Usage
}

// SharedQuotaSuite checks quotas across two kits that share a store, as
// two instances behind a load balancer do: 1000 concurrent executions of
// one principal are recorded exactly, and a quota of N admits exactly N.
func SharedQuotaSuite(t *testing.T, open OpenQuotaStore) {
	const n = 1000
	t.Run("usage is exact", func(t *testing.T) {
		ns := Namespace()
		a, fa := quotaKit(t, open(t, ns), quota.Limits{})
		b, fb := quotaKit(t, open(t, ns), quota.Limits{})
		st := spread("shared", n, a, b)
		if st[http.StatusOK] != n {
			t.Fatalf("statuses %v", st)
		}
		want := quota.Usage{Executions: n, CPUSeconds: n * 0.25, MemoryMBSeconds: n * 2 * 0.5}
		for name, kit := range map[string]*computemw.Kit{"a": a, "b": b} {
			if u := usageOf(t, kit, "shared"); u != want {
				t.Errorf("usage seen by %s: %+v, want %+v", name, u, want)
			}
		}
		if c := fa.Created() + fb.Created(); c != n {
			t.Errorf("created %d sandboxes", c)
		}
	})

	t.Run("a quota of N admits exactly N", func(t *testing.T) {
		const limit = 100
		ns := Namespace()
		a, fa := quotaKit(t, open(t, ns), quota.Limits{Executions: limit})
		b, fb := quotaKit(t, open(t, ns), quota.Limits{Executions: limit})
		st := spread("capped", n, a, b)
		if st[http.StatusOK] != limit || st[http.StatusTooManyRequests] != n-limit {
			t.Errorf("statuses %v, want %d × 200 and %d × 429", st, limit, n-limit)
		}
		if c := fa.Created() + fb.Created(); c != limit {
			t.Errorf("created %d sandboxes, want %d", c, limit)
		}
		if u := usageOf(t, a, "capped"); u.Executions != limit {
			t.Errorf("recorded %d executions, want %d", u.Executions, limit)
		}
	})
}

// DurableQuotaSuite checks that usage survives a restart: a kit records
// executions, then the kit and its store are closed, and a new kit over a
// newly opened store reports the same usage. open returns the store and a
// function that closes it.
func DurableQuotaSuite(t *testing.T, open func(t *testing.T, namespace string) (quota.Store, func() error)) {
	ns := Namespace()
	store, closeStore := open(t, ns)
	kit, _ := quotaKit(t, store, quota.Limits{})
	if st := spread("durable", 3, kit); st[http.StatusOK] != 3 {
		t.Fatalf("statuses %v", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := kit.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := closeStore(); err != nil {
		t.Fatalf("closing the store: %v", err)
	}
	store, _ = open(t, ns)
	kit, _ = quotaKit(t, store, quota.Limits{})
	want := quota.Usage{Executions: 3, CPUSeconds: 0.75, MemoryMBSeconds: 3}
	if u := usageOf(t, kit, "durable"); u != want {
		t.Errorf("after restart: %+v, want %+v", u, want)
	}
}

// SharedRateSuite checks rate limits across two kits whose limiters share
// a store (two instances of it, opened with one namespace as a key
// prefix): a limit of N per window admits exactly N of 1000 concurrent
// requests.
func SharedRateSuite(t *testing.T, open func(t *testing.T, namespace string) limiter.Store) {
	const n, limit = 1000, 100
	ns := Namespace()
	var kits []*computemw.Kit
	var created []*fakeprovider.Provider
	for range 2 {
		rl, err := ratelimit.New(ratelimit.Config{
			Store: open(t, ns),
			Tiers: map[string]limiter.Rate{"free": {Period: time.Hour, Limit: limit}},
		})
		if err != nil {
			t.Fatal(err)
		}
		kit, fake := MeteredKit(t, computemw.Config{MaxSandboxes: 4096, Policies: []computemw.Policy{rl}}, Measured)
		kits = append(kits, kit)
		created = append(created, fake)
	}
	st := spread("limited", n, kits...)
	if st[http.StatusOK] != limit || st[http.StatusTooManyRequests] != n-limit {
		t.Errorf("statuses %v, want %d × 200 and %d × 429", st, limit, n-limit)
	}
	var total int64
	for _, f := range created {
		total += f.Created()
	}
	if total != limit {
		t.Errorf("created %d sandboxes, want %d", total, limit)
	}
}

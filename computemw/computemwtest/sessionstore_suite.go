package computemwtest

import (
	"context"
	"errors"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
)

// OpenSessionStore opens a session store of the implementation under
// test. Stores opened with the same namespace share their records (as
// instances sharing a database do); different namespaces are isolated.
// The opener closes what it opened at the test's cleanup.
type OpenSessionStore func(t *testing.T, namespace string) computemw.SessionStore

// SessionStoreSuite checks a [computemw.SessionStore] implementation:
// records round-trip, touches, deletes that one caller wins, lists and
// expiry, and that the session limits hold under concurrent reservations
// from two stores on the same data.
func SessionStoreSuite(t *testing.T, open OpenSessionStore) {
	ctx := context.Background()
	lim := computemw.SessionLimits{Total: 3, PerOwner: 2}

	t.Run("Records", func(t *testing.T) {
		st := open(t, Namespace())
		now := time.Now().Truncate(time.Millisecond)
		tok, err := st.Reserve(ctx, "p:a", lim, now.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		rec := computemw.SessionRecord{ID: "sb-1", Provider: "remote", Owner: "p:a", Instance: "i1", InstanceURL: "http://i1/api",
			CreatedAt: now, ExpiresAt: now.Add(time.Minute), TTL: time.Minute, Deadline: now.Add(2 * time.Hour),
			Metadata: map[string]string{"k": "v"}}
		if err := st.Commit(ctx, tok, rec); err != nil {
			t.Fatal(err)
		}
		got, err := st.Get(ctx, "sb-1")
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != rec.ID || got.Provider != rec.Provider || got.Owner != rec.Owner || got.Instance != rec.Instance ||
			got.InstanceURL != rec.InstanceURL || !got.CreatedAt.Equal(rec.CreatedAt) || !got.ExpiresAt.Equal(rec.ExpiresAt) ||
			got.TTL != rec.TTL || !got.Deadline.Equal(rec.Deadline) || !maps.Equal(got.Metadata, rec.Metadata) {
			t.Errorf("Get = %+v, want %+v", got, rec)
		}
		if _, err := st.Get(ctx, "sb-none"); !errors.Is(err, computemw.ErrSessionNotFound) {
			t.Errorf("Get of an unknown ID: %v, want ErrSessionNotFound", err)
		}
		later := now.Add(time.Hour)
		if err := st.Touch(ctx, "sb-1", later); err != nil {
			t.Fatal(err)
		}
		if got, _ := st.Get(ctx, "sb-1"); !got.ExpiresAt.Equal(later) {
			t.Errorf("after Touch, ExpiresAt = %v, want %v", got.ExpiresAt, later)
		}
		if err := st.Touch(ctx, "sb-none", later); !errors.Is(err, computemw.ErrSessionNotFound) {
			t.Errorf("Touch of an unknown ID: %v, want ErrSessionNotFound", err)
		}
		if l, err := st.List(ctx, "p:a", now); err != nil || len(l) != 1 || l[0].ID != "sb-1" {
			t.Errorf("List = %v, %v", l, err)
		}
		if l, err := st.List(ctx, "p:b", now); err != nil || len(l) != 0 {
			t.Errorf("List of another owner = %v, %v", l, err)
		}
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				ok, err := st.Delete(ctx, "sb-1")
				if err != nil {
					t.Error(err)
				}
				if ok {
					wins.Add(1)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Errorf("%d concurrent deletes won, want 1", wins.Load())
		}
		if _, err := st.Get(ctx, "sb-1"); !errors.Is(err, computemw.ErrSessionNotFound) {
			t.Errorf("Get after Delete: %v", err)
		}
	})

	t.Run("Limits", func(t *testing.T) {
		st := open(t, Namespace())
		until := time.Now().Add(time.Minute)
		a1, err1 := st.Reserve(ctx, "p:a", lim, until)
		_, err2 := st.Reserve(ctx, "p:a", lim, until)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Reserve(ctx, "p:a", lim, until); !errors.Is(err, computemw.ErrOwnerSessionsFull) {
			t.Errorf("third place of one owner: %v, want ErrOwnerSessionsFull", err)
		}
		if _, err := st.Reserve(ctx, "p:b", lim, until); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Reserve(ctx, "p:c", lim, until); !errors.Is(err, computemw.ErrSessionsFull) {
			t.Errorf("fourth place in all: %v, want ErrSessionsFull", err)
		}
		if err := st.Release(ctx, "p:a", a1); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Reserve(ctx, "p:c", lim, until); err != nil {
			t.Errorf("after a release: %v", err)
		}
	})

	t.Run("Expiry", func(t *testing.T) {
		st := open(t, Namespace())
		now := time.Now()
		// A place that has lapsed counts no more.
		if _, err := st.Reserve(ctx, "p:a", lim, now.Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		tok, err := st.Reserve(ctx, "p:a", lim, now.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		old := computemw.SessionRecord{ID: "sb-old", Provider: "remote", Owner: "p:a", CreatedAt: now.Add(-time.Hour),
			ExpiresAt: now.Add(-time.Minute), TTL: time.Minute}
		if err := st.Commit(ctx, tok, old); err != nil {
			t.Fatal(err)
		}
		// The expired session counts no more either: two places are free.
		for range 2 {
			if _, err := st.Reserve(ctx, "p:a", lim, now.Add(time.Minute)); err != nil {
				t.Fatalf("a place next to expired ones: %v", err)
			}
		}
		if l, err := st.List(ctx, "p:a", now); err != nil || len(l) != 0 {
			t.Errorf("List shows expired records: %v, %v", l, err)
		}
		exp, err := st.Expired(ctx, now, 10)
		if err != nil || len(exp) != 1 || exp[0].ID != "sb-old" {
			t.Errorf("Expired = %v, %v; want sb-old", exp, err)
		}
	})

	t.Run("ConcurrentReservations", func(t *testing.T) {
		ns := Namespace()
		stores := []computemw.SessionStore{open(t, ns), open(t, ns)}
		big := computemw.SessionLimits{Total: 100, PerOwner: 5}
		var ok atomic.Int32
		var wg sync.WaitGroup
		for i := range 24 {
			wg.Go(func() {
				_, err := stores[i%2].Reserve(ctx, "p:same", big, time.Now().Add(time.Minute))
				switch {
				case err == nil:
					ok.Add(1)
				case !errors.Is(err, computemw.ErrOwnerSessionsFull):
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 5 {
			t.Errorf("%d of 24 concurrent reservations succeeded, want exactly 5", ok.Load())
		}
	})
}

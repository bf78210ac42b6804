//go:build !(js && wasm)

package cfworker

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/ulule/limiter/v3"

	"github.com/computemw/kit/computemw/quota"
)

// Stores made one after the other — as each request's Go instance makes
// its own — count together, since they keep their entries in the
// isolate's memory (here the process's).
func TestRateStoreSharedAcrossInstances(t *testing.T) {
	ctx := context.Background()
	rate := limiter.Rate{Period: time.Hour, Limit: 2}
	key := t.Name()
	for i, want := range []struct {
		count   int64
		reached bool
	}{{1, false}, {2, false}, {3, true}} {
		c, err := RateStore().Get(ctx, key, rate)
		if err != nil {
			t.Fatal(err)
		}
		if c.Remaining != max(0, 2-want.count) || c.Reached != want.reached {
			t.Errorf("hit %d: %+v", i+1, c)
		}
	}
	if c, err := RateStore().Peek(ctx, key, rate); err != nil || c.Remaining != 0 || !c.Reached {
		t.Errorf("peek: %+v %v", c, err)
	}
	if _, err := RateStore().Reset(ctx, key, rate); err != nil {
		t.Fatal(err)
	}
	if c, err := RateStore().Get(ctx, key, rate); err != nil || c.Remaining != 1 {
		t.Errorf("after reset: %+v %v", c, err)
	}
}

// Quota usage adds up across stores, per period, and a period that ended
// counts nothing.
func TestQuotaStoreSharedAcrossInstances(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	month := quota.Period{Name: "month", Start: now.Add(-time.Hour), End: now.Add(time.Hour)}
	key := t.Name()
	for range 2 {
		if _, err := QuotaStore().Add(ctx, key, month, quota.Usage{Executions: 1, CPUSeconds: 0.5}); err != nil {
			t.Fatal(err)
		}
	}
	if u, err := QuotaStore().Get(ctx, key, month); err != nil || u.Executions != 2 || u.CPUSeconds != 1 {
		t.Errorf("usage %+v %v", u, err)
	}
	ended := quota.Period{Name: "month", Start: now.Add(-2 * time.Hour), End: now.Add(-time.Hour)}
	if _, err := QuotaStore().Add(ctx, key, ended, quota.Usage{Executions: 5}); err != nil {
		t.Fatal(err)
	}
	if u, err := QuotaStore().Get(ctx, key, ended); err != nil || u.Executions != 0 {
		t.Errorf("an ended period still counts: %+v %v", u, err)
	}
	if u, err := QuotaStore().Get(ctx, key, month); err != nil || u.Executions != 2 {
		t.Errorf("another period's usage changed this one's: %+v %v", u, err)
	}
}

// Past MaxCounterKeys live entries a new key is refused (the policies
// then fail closed) while known keys go on counting; expired entries are
// dropped to make room.
func TestCountersBounded(t *testing.T) {
	mem := &processMemory{m: map[string]string{}}
	s := &rateStore{counterStore{mem: mem, prefix: countersPrefix + "rate:"}}
	ctx := context.Background()
	rate := limiter.Rate{Period: time.Hour, Limit: 10}
	if _, err := s.Get(ctx, "known", rate); err != nil {
		t.Fatal(err)
	}
	live := `{"n":1,"x":` + strconv.FormatInt(time.Now().Add(time.Hour).UnixNano(), 10) + `}`
	for i := len(mem.m); i < MaxCounterKeys; i++ {
		mem.m[countersPrefix+"rate:filler"+strconv.Itoa(i)] = live
	}
	if _, err := s.Get(ctx, "new", rate); err == nil {
		t.Error("a new key past the bound was counted")
	}
	if c, err := s.Get(ctx, "known", rate); err != nil || c.Remaining != 8 {
		t.Errorf("a known key: %+v %v", c, err)
	}
	mem.m[countersPrefix+"rate:filler"+strconv.Itoa(MaxCounterKeys-1)] = `{"n":1,"x":1}` // expired
	if _, err := s.Get(ctx, "new", rate); err != nil {
		t.Errorf("an expired entry did not make room: %v", err)
	}
}

package quota

import (
	"context"
	"sync"
	"time"
)

// Usage is what one principal consumed in one period, as measured by
// the sandboxes: executions, CPU seconds, and memory-MB-seconds (peak
// memory times duration).
type Usage struct {
	Executions      int64   `json:"executions"`
	CPUSeconds      float64 `json:"cpuSeconds"`
	MemoryMBSeconds float64 `json:"memoryMBSeconds"`
}

// Period is one accounting window of quotas: [Start, End).
type Period struct {
	// Name names the kind of period ("month", "day", "1h0m0s").
	Name       string
	Start, End time.Time
}

// PeriodFunc returns the period that contains a time.
type PeriodFunc func(now time.Time) Period

// Monthly is the PeriodFunc of calendar months in UTC.
func Monthly(now time.Time) Period {
	now = now.UTC()
	start := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	return Period{Name: "month", Start: start, End: start.AddDate(0, 1, 0)}
}

// Daily is the PeriodFunc of calendar days in UTC.
func Daily(now time.Time) Period {
	now = now.UTC()
	start := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	return Period{Name: "day", Start: start, End: start.AddDate(0, 0, 1)}
}

// Every returns the PeriodFunc of fixed windows of length d (positive),
// aligned to the Unix epoch.
func Every(d time.Duration) PeriodFunc {
	return func(now time.Time) Period {
		n := now.UnixNano()
		start := time.Unix(0, n-n%int64(d)).UTC()
		return Period{Name: d.String(), Start: start, End: start.Add(d)}
	}
}

// Store keeps quota usage per key and period. Add must be atomic —
// no lost update under concurrency, across every instance sharing the
// store — because quotas reserve an execution by adding first and rolling
// back (adding a negative delta) when the result is over the limit.
// Stores may drop a period's usage once the period has ended.
//
// The kit has an in-memory store ([NewMemoryStore]); durable and
// shared ones are in stores/sqlitestore, stores/redisstore and
// stores/pgstore.
type Store interface {
	// Add adds delta to key's usage in period and returns the new total.
	Add(ctx context.Context, key string, period Period, delta Usage) (Usage, error)
	// Get returns key's usage in period (zero if none).
	Get(ctx context.Context, key string, period Period) (Usage, error)
}

// NewMemoryStore returns a Store in memory: for one instance,
// and lost at restart. Ended periods are dropped during adds.
func NewMemoryStore() Store {
	return &memoryStore{usage: make(map[quotaKey]*quotaEntry)}
}

type memoryStore struct {
	mu        sync.Mutex
	usage     map[quotaKey]*quotaEntry
	nextSweep time.Time
}

type quotaKey struct {
	key   string
	start int64
}

type quotaEntry struct {
	u   Usage
	end time.Time
}

// Add implements Store.
func (s *memoryStore) Add(_ context.Context, key string, period Period, delta Usage) (Usage, error) {
	k := quotaKey{key, period.Start.UnixNano()}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(time.Now())
	e, ok := s.usage[k]
	if !ok {
		e = &quotaEntry{end: period.End}
		s.usage[k] = e
	}
	e.u.Executions += delta.Executions
	e.u.CPUSeconds += delta.CPUSeconds
	e.u.MemoryMBSeconds += delta.MemoryMBSeconds
	return e.u, nil
}

// Get implements Store.
func (s *memoryStore) Get(_ context.Context, key string, period Period) (Usage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.usage[quotaKey{key, period.Start.UnixNano()}]; ok {
		return e.u, nil
	}
	return Usage{}, nil
}

// sweep drops ended periods, at most once a minute.
func (s *memoryStore) sweep(now time.Time) {
	if now.Before(s.nextSweep) {
		return
	}
	s.nextSweep = now.Add(time.Minute)
	for k, e := range s.usage {
		if !now.Before(e.end) {
			delete(s.usage, k)
		}
	}
}

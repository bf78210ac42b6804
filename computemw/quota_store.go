package computemw

import (
	"context"
	"sync"
	"time"
)

// QuotaUsage is what one principal consumed in one period, as measured by
// the sandboxes: executions, CPU seconds, and memory-MB-seconds (peak
// memory times duration).
type QuotaUsage struct {
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

// QuotaStore keeps quota usage per key and period. Add must be atomic —
// no lost update under concurrency, across every instance sharing the
// store — because quotas reserve an execution by adding first and rolling
// back (adding a negative delta) when the result is over the limit.
// Stores may drop a period's usage once the period has ended.
//
// The kit has an in-memory store ([NewMemoryQuotaStore]); durable and
// shared ones are in stores/sqlitestore, stores/redisstore and
// stores/pgstore.
type QuotaStore interface {
	// Add adds delta to key's usage in period and returns the new total.
	Add(ctx context.Context, key string, period Period, delta QuotaUsage) (QuotaUsage, error)
	// Get returns key's usage in period (zero if none).
	Get(ctx context.Context, key string, period Period) (QuotaUsage, error)
}

// NewMemoryQuotaStore returns a QuotaStore in memory: for one instance,
// and lost at restart. Ended periods are dropped during adds.
func NewMemoryQuotaStore() QuotaStore {
	return &memoryQuotaStore{usage: make(map[quotaKey]*quotaEntry)}
}

type memoryQuotaStore struct {
	mu        sync.Mutex
	usage     map[quotaKey]*quotaEntry
	nextSweep time.Time
}

type quotaKey struct {
	key   string
	start int64
}

type quotaEntry struct {
	u   QuotaUsage
	end time.Time
}

// Add implements QuotaStore.
func (s *memoryQuotaStore) Add(_ context.Context, key string, period Period, delta QuotaUsage) (QuotaUsage, error) {
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

// Get implements QuotaStore.
func (s *memoryQuotaStore) Get(_ context.Context, key string, period Period) (QuotaUsage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.usage[quotaKey{key, period.Start.UnixNano()}]; ok {
		return e.u, nil
	}
	return QuotaUsage{}, nil
}

// sweep drops ended periods, at most once a minute.
func (s *memoryQuotaStore) sweep(now time.Time) {
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

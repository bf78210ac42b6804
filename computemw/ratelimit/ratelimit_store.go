package ratelimit

import (
	"context"
	"sync"
	"time"

	"github.com/ulule/limiter/v3"
	"github.com/ulule/limiter/v3/drivers/store/common"
)

// NewMemoryStore returns an in-memory [limiter.Store] for one
// instance: fixed windows per key, as limiter's own stores count. Unlike
// limiter's memory store it starts no cleaner goroutine: expired windows
// are swept during increments, at most once per sweep interval.
func NewMemoryStore() limiter.Store {
	return &memoryRateStore{windows: make(map[string]*rateWindow)}
}

// rateSweepInterval is how often expired windows are dropped.
const rateSweepInterval = time.Minute

type memoryRateStore struct {
	mu        sync.Mutex
	windows   map[string]*rateWindow
	nextSweep time.Time
}

type rateWindow struct {
	count   int64
	expires time.Time
}

// Get implements limiter.Store: it counts one hit.
func (s *memoryRateStore) Get(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	return s.Increment(ctx, key, 1, rate)
}

// Increment implements limiter.Store.
func (s *memoryRateStore) Increment(_ context.Context, key string, count int64, rate limiter.Rate) (limiter.Context, error) {
	now := time.Now()
	s.mu.Lock()
	s.sweep(now)
	w, ok := s.windows[key]
	if !ok {
		w = &rateWindow{}
		s.windows[key] = w
	}
	if !now.Before(w.expires) {
		w.count, w.expires = 0, now.Add(rate.Period)
	}
	w.count += count
	n, exp := w.count, w.expires
	s.mu.Unlock()
	return common.GetContextFromState(now, rate, exp, n), nil
}

// Peek implements limiter.Store.
func (s *memoryRateStore) Peek(_ context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	now := time.Now()
	s.mu.Lock()
	n, exp := int64(0), now.Add(rate.Period)
	if w, ok := s.windows[key]; ok && now.Before(w.expires) {
		n, exp = w.count, w.expires
	}
	s.mu.Unlock()
	return common.GetContextFromState(now, rate, exp, n), nil
}

// Reset implements limiter.Store.
func (s *memoryRateStore) Reset(_ context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	now := time.Now()
	s.mu.Lock()
	delete(s.windows, key)
	s.mu.Unlock()
	return common.GetContextFromState(now, rate, now.Add(rate.Period), 0), nil
}

// sweep drops expired windows, at most once per rateSweepInterval.
func (s *memoryRateStore) sweep(now time.Time) {
	if now.Before(s.nextSweep) {
		return
	}
	s.nextSweep = now.Add(rateSweepInterval)
	for k, w := range s.windows {
		if !now.Before(w.expires) {
			delete(s.windows, k)
		}
	}
}

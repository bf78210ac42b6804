package cfworker

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ulule/limiter/v3"
	"github.com/ulule/limiter/v3/drivers/store/common"

	"github.com/computemw/kit/computemw/quota"
)

// memory is where the counting stores keep their entries: the isolate's
// JavaScript memory in a Worker, the process's elsewhere. Each operation
// is atomic with respect to every other Go instance of the isolate; a
// store's read-change-write runs under its own mutex (goroutines of one
// instance) and makes no blocking call (so no other instance runs
// meanwhile).
type memory interface {
	get(key string) (string, bool)
	set(key, value string)
	del(key string)
	keys() []string
	size() int
}

// MaxCounterKeys bounds the entries the counting stores keep in an
// isolate; past it, expired entries are dropped first, and then the store
// refuses to count a new key (computemw/ratelimit and computemw/quota then
// refuse the request, unless their FailOpen is set).
const MaxCounterKeys = 100_000

// sweepInterval is how often the stores drop expired entries.
const sweepInterval = time.Minute

// counterStore holds the entries of one kind under a key prefix.
type counterStore struct {
	mu     sync.Mutex // the goroutines of this Go instance
	mem    memory
	prefix string
}

// entry is a stored counter: its value and when it expires.
type entry struct {
	Count   int64       `json:"n,omitempty"`
	Usage   quota.Usage `json:"u"`
	Expires int64       `json:"x"` // Unix nanoseconds
}

func (s *counterStore) load(key string, now time.Time) (entry, bool) {
	raw, ok := s.mem.get(s.prefix + key)
	if !ok {
		return entry{}, false
	}
	var e entry
	if json.Unmarshal([]byte(raw), &e) != nil || now.UnixNano() >= e.Expires {
		return entry{}, false
	}
	return e, true
}

func (s *counterStore) store(key string, e entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	s.mem.set(s.prefix+key, string(b))
	return nil
}

// sweep drops the expired entries of every kind, at most once per
// sweepInterval (or at once when the stores are full), and reports
// whether there is room for a new key.
func (s *counterStore) sweep(now time.Time) bool {
	n := s.mem.size()
	next, _ := s.mem.get(sweepKey)
	if at, err := strconv.ParseInt(next, 10, 64); err == nil && now.UnixNano() < at && n < MaxCounterKeys {
		return true
	}
	s.mem.set(sweepKey, strconv.FormatInt(now.Add(sweepInterval).UnixNano(), 10))
	for _, k := range s.mem.keys() {
		if !strings.HasPrefix(k, countersPrefix) {
			continue
		}
		raw, _ := s.mem.get(k)
		var e entry
		if json.Unmarshal([]byte(raw), &e) != nil || now.UnixNano() >= e.Expires {
			s.mem.del(k)
			n--
		}
	}
	return n < MaxCounterKeys
}

const countersPrefix = "computemw:"

// sweepKey holds when the next sweep is due (Unix nanoseconds): the Go
// instances of an isolate share it.
const sweepKey = "computemw-sweep"

// errFull is a new key past MaxCounterKeys.
type errFull struct{}

func (errFull) Error() string {
	return "cfworker: the isolate's counters are full (" + strconv.Itoa(MaxCounterKeys) + " keys)"
}

// RateStore returns a limiter.Store (for computemw/ratelimit) that counts
// in the isolate's memory: shared by the Go instances — the requests — one
// isolate runs, and lost when the isolate is evicted; each isolate
// counts on its own. Windows are fixed, as limiter's own stores count.
// Outside a Worker it counts in the process's memory.
func RateStore() limiter.Store {
	return &rateStore{counterStore{mem: newIsolateMemory(), prefix: countersPrefix + "rate:"}}
}

type rateStore struct{ counterStore }

// Get implements limiter.Store: it counts one hit.
func (s *rateStore) Get(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	return s.Increment(ctx, key, 1, rate)
}

// Increment implements limiter.Store.
func (s *rateStore) Increment(_ context.Context, key string, count int64, rate limiter.Rate) (limiter.Context, error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	room := s.sweep(now)
	e, ok := s.load(key, now)
	if !ok {
		if !room {
			return limiter.Context{}, errFull{}
		}
		e = entry{Expires: now.Add(rate.Period).UnixNano()}
	}
	e.Count += count
	if err := s.store(key, e); err != nil {
		return limiter.Context{}, err
	}
	return common.GetContextFromState(now, rate, time.Unix(0, e.Expires), e.Count), nil
}

// Peek implements limiter.Store.
func (s *rateStore) Peek(_ context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	n, exp := int64(0), now.Add(rate.Period)
	if e, ok := s.load(key, now); ok {
		n, exp = e.Count, time.Unix(0, e.Expires)
	}
	return common.GetContextFromState(now, rate, exp, n), nil
}

// Reset implements limiter.Store.
func (s *rateStore) Reset(_ context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mem.del(s.prefix + key)
	return common.GetContextFromState(now, rate, now.Add(rate.Period), 0), nil
}

// QuotaStore returns a quota.Store (for computemw/quota) that keeps usage
// in the isolate's memory: shared by the requests one isolate runs, lost
// when the isolate is evicted; each isolate keeps its own. Outside a
// Worker it keeps it in the process's memory.
func QuotaStore() quota.Store {
	return &quotaStore{counterStore{mem: newIsolateMemory(), prefix: countersPrefix + "quota:"}}
}

type quotaStore struct{ counterStore }

func quotaKey(key string, period quota.Period) string {
	return strconv.FormatInt(period.Start.UnixNano(), 10) + ":" + key
}

// Add implements quota.Store.
func (s *quotaStore) Add(_ context.Context, key string, period quota.Period, delta quota.Usage) (quota.Usage, error) {
	now := time.Now()
	k := quotaKey(key, period)
	s.mu.Lock()
	defer s.mu.Unlock()
	room := s.sweep(now)
	e, ok := s.load(k, now)
	if !ok {
		if !room {
			return quota.Usage{}, errFull{}
		}
		e = entry{Expires: period.End.UnixNano()}
	}
	e.Usage.Executions += delta.Executions
	e.Usage.CPUSeconds += delta.CPUSeconds
	e.Usage.MemoryMBSeconds += delta.MemoryMBSeconds
	if err := s.store(k, e); err != nil {
		return quota.Usage{}, err
	}
	return e.Usage, nil
}

// Get implements quota.Store.
func (s *quotaStore) Get(_ context.Context, key string, period quota.Period) (quota.Usage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, _ := s.load(quotaKey(key, period), time.Now())
	return e.Usage, nil
}

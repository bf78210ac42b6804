// Package redisstore keeps the kit's shared state in Redis, so that several
// instances behind a load balancer enforce one set of quotas and rate
// limits: a quota.Store, and the rate limiter's store.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	rates, err := redisstore.NewRateStore(ctx, rdb, "computemw:rate")
//	quota, err := quota.New(quota.Config{Store: redisstore.New(rdb, "computemw:quota")})
//	limits, err := ratelimit.New(ratelimit.Config{Store: rates})
//
// It lives in its own package so that users of the other stores do not
// compile a Redis client.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/computemw/kit/computemw/quota"
	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"
	sredis "github.com/ulule/limiter/v3/drivers/store/redis"
)

// expiryGrace keeps a period's usage readable for a while after it ends.
const expiryGrace = 24 * time.Hour

// addScript adds a delta to one period's usage hash and returns the new
// totals; Redis runs it atomically. The key expires after the period.
var addScript = redis.NewScript(`
local e = redis.call('HINCRBY', KEYS[1], 'executions', ARGV[1])
local c = redis.call('HINCRBYFLOAT', KEYS[1], 'cpu', ARGV[2])
local m = redis.call('HINCRBYFLOAT', KEYS[1], 'mem', ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
return {e, c, m}
`)

// Store is a quota.Store in Redis: one hash per key and period,
// updated by a Lua script, so that adds are atomic across instances.
type Store struct {
	client redis.UniversalClient
	prefix string
}

var _ quota.Store = (*Store)(nil)

// New returns a quota store that keeps its hashes under prefix (such as
// "computemw:quota") in client's database.
func New(client redis.UniversalClient, prefix string) *Store {
	return &Store{client: client, prefix: prefix}
}

func (s *Store) key(key string, p quota.Period) string {
	return s.prefix + ":" + key + ":" + strconv.FormatInt(p.Start.Unix(), 10)
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// Add implements quota.Store.
func (s *Store) Add(ctx context.Context, key string, p quota.Period, d quota.Usage) (quota.Usage, error) {
	expireAt := p.End.Add(expiryGrace).UnixMilli()
	res, err := addScript.Run(ctx, s.client, []string{s.key(key, p)},
		d.Executions, formatFloat(d.CPUSeconds), formatFloat(d.MemoryMBSeconds), expireAt).Slice()
	if err != nil {
		return quota.Usage{}, fmt.Errorf("redisstore: add: %w", err)
	}
	if len(res) != 3 {
		return quota.Usage{}, fmt.Errorf("redisstore: add: unexpected reply %v", res)
	}
	e, ok := res[0].(int64)
	if !ok {
		return quota.Usage{}, fmt.Errorf("redisstore: add: unexpected reply %v", res)
	}
	cpu, err1 := parseFloat(res[1])
	mem, err2 := parseFloat(res[2])
	if err := errors.Join(err1, err2); err != nil {
		return quota.Usage{}, fmt.Errorf("redisstore: add: %w", err)
	}
	return quota.Usage{Executions: e, CPUSeconds: cpu, MemoryMBSeconds: mem}, nil
}

// Get implements quota.Store.
func (s *Store) Get(ctx context.Context, key string, p quota.Period) (quota.Usage, error) {
	vals, err := s.client.HMGet(ctx, s.key(key, p), "executions", "cpu", "mem").Result()
	if err != nil {
		return quota.Usage{}, fmt.Errorf("redisstore: get: %w", err)
	}
	var u quota.Usage
	var errs [3]error
	if vals[0] != nil {
		u.Executions, errs[0] = strconv.ParseInt(fmt.Sprint(vals[0]), 10, 64)
	}
	if vals[1] != nil {
		u.CPUSeconds, errs[1] = parseFloat(vals[1])
	}
	if vals[2] != nil {
		u.MemoryMBSeconds, errs[2] = parseFloat(vals[2])
	}
	if err := errors.Join(errs[:]...); err != nil {
		return quota.Usage{}, fmt.Errorf("redisstore: get: %w", err)
	}
	return u, nil
}

func parseFloat(v any) (float64, error) {
	s, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf("unexpected value %v", v)
	}
	return strconv.ParseFloat(s, 64)
}

// NewRateStore returns limiter's Redis store for ratelimit.Config,
// keeping counters under prefix. Several instances given stores on one
// Redis share their rate limits; limiter's Lua script makes each count
// atomic. It loads its scripts into Redis, so Redis must be reachable.
func NewRateStore(ctx context.Context, client redis.UniversalClient, prefix string) (limiter.Store, error) {
	if err := client.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("redisstore: rate store: %w", err)
	}
	st, err := sredis.NewStoreWithOptions(client, limiter.StoreOptions{Prefix: prefix})
	if err != nil {
		return nil, fmt.Errorf("redisstore: rate store: %w", err)
	}
	return st, nil
}

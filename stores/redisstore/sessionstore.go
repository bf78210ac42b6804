package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/internal/sessiontoken"
)

// SessionStore is a computemw.SessionStore in Redis, for
// Config.SessionStore: kit instances sharing it serve each other's
// sessions and hold the session limits together.
//
// Each session is a hash; two sorted sets (all sessions, and one per
// owner) index sessions and reservations by expiry, so that counting the
// live ones is a ZCOUNT. Reservations run in a Lua script and the other
// changes in scripts or MULTI/EXEC transactions, so they are atomic across
// instances.
type SessionStore struct {
	client redis.UniversalClient
	prefix string
}

var _ computemw.SessionStore = (*SessionStore)(nil)

// NewSessionStore returns a session store that keeps its keys under
// prefix (such as "computemw:sessions") in client's database.
func NewSessionStore(client redis.UniversalClient, prefix string) *SessionStore {
	return &SessionStore{client: client, prefix: prefix}
}

func (s *SessionStore) allKey() string               { return s.prefix + ":all" }
func (s *SessionStore) ownerKey(owner string) string { return s.prefix + ":owner:" + owner }
func (s *SessionStore) recKey(id string) string      { return s.prefix + ":rec:" + id }

// placeMember is a reservation's member in the sorted sets; it carries
// the owner so that a lapsed place can be dropped from the owner's set.
func placeMember(owner, token string) string { return "r:" + token + ":" + owner }

// reserveScript counts the live entries (score after now) of all and of
// the owner and adds the place when both are under their limits.
var reserveScript = redis.NewScript(`
if redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[1], '+inf') >= tonumber(ARGV[2]) then return 1 end
if redis.call('ZCOUNT', KEYS[2], '(' .. ARGV[1], '+inf') >= tonumber(ARGV[3]) then return 2 end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
return 0
`)

// touchScript moves a session's expiry in its hash and both sets.
var touchScript = redis.NewScript(`
local owner = redis.call('HGET', KEYS[1], 'owner')
if not owner then return 0 end
redis.call('HSET', KEYS[1], 'expires', ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', ARGV[3] .. owner, ARGV[1], ARGV[2])
return 1
`)

// deleteScript removes a session; it returns 1 to the one caller that
// removed it.
var deleteScript = redis.NewScript(`
local owner = redis.call('HGET', KEYS[1], 'owner')
if not owner then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', ARGV[2] .. owner, ARGV[1])
return 1
`)

// Reserve implements computemw.SessionStore.
func (s *SessionStore) Reserve(ctx context.Context, owner string, lim computemw.SessionLimits, until time.Time) (string, error) {
	token := sessiontoken.New()
	res, err := reserveScript.Run(ctx, s.client, []string{s.allKey(), s.ownerKey(owner)},
		time.Now().UnixMilli(), lim.Total, lim.PerOwner, until.UnixMilli(), placeMember(owner, token)).Int()
	if err != nil {
		return "", fmt.Errorf("redisstore: reserve a session: %w", err)
	}
	switch res {
	case 1:
		return "", computemw.ErrSessionsFull
	case 2:
		return "", computemw.ErrOwnerSessionsFull
	}
	return token, nil
}

// Commit implements computemw.SessionStore.
func (s *SessionStore) Commit(ctx context.Context, token string, rec computemw.SessionRecord) error {
	meta, err := json.Marshal(rec.Metadata)
	if err != nil {
		return fmt.Errorf("redisstore: commit a session: %w", err)
	}
	place := placeMember(rec.Owner, token)
	exp := float64(rec.ExpiresAt.UnixMilli())
	_, err = s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRem(ctx, s.allKey(), place)
		p.ZRem(ctx, s.ownerKey(rec.Owner), place)
		p.HSet(ctx, s.recKey(rec.ID), map[string]any{
			"provider": rec.Provider, "owner": rec.Owner, "instance": rec.Instance, "url": rec.InstanceURL,
			"created": rec.CreatedAt.UnixMilli(), "expires": rec.ExpiresAt.UnixMilli(), "ttl": rec.TTL.Milliseconds(), "meta": string(meta),
			"deadline": deadlineMillis(rec.Deadline),
		})
		p.ZAdd(ctx, s.allKey(), redis.Z{Score: exp, Member: rec.ID})
		p.ZAdd(ctx, s.ownerKey(rec.Owner), redis.Z{Score: exp, Member: rec.ID})
		return nil
	})
	if err != nil {
		return fmt.Errorf("redisstore: commit a session: %w", err)
	}
	return nil
}

// Release implements computemw.SessionStore.
func (s *SessionStore) Release(ctx context.Context, owner, token string) error {
	place := placeMember(owner, token)
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRem(ctx, s.allKey(), place)
		p.ZRem(ctx, s.ownerKey(owner), place)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redisstore: release a session place: %w", err)
	}
	return nil
}

// Get implements computemw.SessionStore.
func (s *SessionStore) Get(ctx context.Context, id string) (computemw.SessionRecord, error) {
	h, err := s.client.HGetAll(ctx, s.recKey(id)).Result()
	if err != nil {
		return computemw.SessionRecord{}, fmt.Errorf("redisstore: get a session: %w", err)
	}
	return parseRecord(id, h)
}

func parseRecord(id string, h map[string]string) (computemw.SessionRecord, error) {
	if len(h) == 0 {
		return computemw.SessionRecord{}, computemw.ErrSessionNotFound
	}
	ms := func(f string) (int64, error) { return strconv.ParseInt(h[f], 10, 64) }
	created, err1 := ms("created")
	expires, err2 := ms("expires")
	ttl, err3 := ms("ttl")
	var meta map[string]string
	err4 := json.Unmarshal([]byte(h["meta"]), &meta)
	var deadline time.Time
	var err5 error
	if h["deadline"] != "" && h["deadline"] != "0" { // records written before the field have none
		var d int64
		d, err5 = ms("deadline")
		deadline = time.UnixMilli(d)
	}
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		return computemw.SessionRecord{}, fmt.Errorf("redisstore: session %q: %w", id, err)
	}
	return computemw.SessionRecord{ID: id, Provider: h["provider"], Owner: h["owner"], Instance: h["instance"], InstanceURL: h["url"],
		CreatedAt: time.UnixMilli(created), ExpiresAt: time.UnixMilli(expires), TTL: time.Duration(ttl) * time.Millisecond,
		Deadline: deadline, Metadata: meta}, nil
}

// deadlineMillis is a record's deadline as stored: Unix milliseconds, or
// 0 for none.
func deadlineMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// Touch implements computemw.SessionStore.
func (s *SessionStore) Touch(ctx context.Context, id string, expires time.Time) error {
	n, err := touchScript.Run(ctx, s.client, []string{s.recKey(id), s.allKey()}, expires.UnixMilli(), id, s.ownerKey("")).Int()
	if err != nil {
		return fmt.Errorf("redisstore: touch a session: %w", err)
	}
	if n == 0 {
		return computemw.ErrSessionNotFound
	}
	return nil
}

// Delete implements computemw.SessionStore.
func (s *SessionStore) Delete(ctx context.Context, id string) (bool, error) {
	n, err := deleteScript.Run(ctx, s.client, []string{s.recKey(id), s.allKey()}, id, s.ownerKey("")).Int()
	if err != nil {
		return false, fmt.Errorf("redisstore: delete a session: %w", err)
	}
	return n == 1, nil
}

// records reads the hashes of ids (skipping reservations and ids whose
// hash is gone).
func (s *SessionStore) records(ctx context.Context, ids []string) ([]computemw.SessionRecord, error) {
	var cmds []*redis.MapStringStringCmd
	var keep []string
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, id := range ids {
			if strings.HasPrefix(id, "r:") {
				continue
			}
			keep = append(keep, id)
			cmds = append(cmds, p.HGetAll(ctx, s.recKey(id)))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redisstore: read sessions: %w", err)
	}
	out := make([]computemw.SessionRecord, 0, len(cmds))
	for i, c := range cmds {
		rec, err := parseRecord(keep[i], c.Val())
		if errors.Is(err, computemw.ErrSessionNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// List implements computemw.SessionStore.
func (s *SessionStore) List(ctx context.Context, owner string, now time.Time) ([]computemw.SessionRecord, error) {
	ids, err := s.client.ZRangeByScore(ctx, s.ownerKey(owner), &redis.ZRangeBy{Min: "(" + strconv.FormatInt(now.UnixMilli(), 10), Max: "+inf"}).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: list sessions: %w", err)
	}
	return s.records(ctx, ids)
}

// Expired implements computemw.SessionStore.
func (s *SessionStore) Expired(ctx context.Context, now time.Time, limit int) ([]computemw.SessionRecord, error) {
	members, err := s.client.ZRangeByScore(ctx, s.allKey(), &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(now.UnixMilli(), 10), Count: int64(limit) * 4}).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: expired sessions: %w", err)
	}
	var ids []string
	for _, m := range members {
		if rest, ok := strings.CutPrefix(m, "r:"); ok {
			// A lapsed place: its creation died midway.
			if _, owner, ok := strings.Cut(rest, ":"); ok {
				s.client.ZRem(ctx, s.ownerKey(owner), m)
			}
			s.client.ZRem(ctx, s.allKey(), m)
			continue
		}
		if len(ids) < limit {
			ids = append(ids, m)
		}
	}
	recs, err := s.records(ctx, ids)
	if err != nil {
		return nil, err
	}
	// Members without a hash are left from a failed write: drop them.
	if len(recs) < len(ids) {
		have := make(map[string]bool, len(recs))
		for _, r := range recs {
			have[r.ID] = true
		}
		for _, id := range ids {
			if !have[id] {
				s.client.ZRem(ctx, s.allKey(), id)
			}
		}
	}
	return recs, nil
}

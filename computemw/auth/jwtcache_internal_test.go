package auth

import (
	"fmt"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
)

func TestTokenCache(t *testing.T) {
	now := time.Now()
	alice := computemw.Principal{ID: "alice"}
	cases := []struct {
		name  string
		until time.Time
		at    time.Time
		hit   bool
	}{
		{"valid", now.Add(time.Hour), now.Add(time.Second), true},
		{"past its expiry", now.Add(10 * time.Second), now.Add(11 * time.Second), false},
		{"past the cache TTL", now.Add(time.Hour), now.Add(tokenCacheTTL), false},
		{"no expiry, within the TTL", time.Time{}, now.Add(time.Second), true},
		{"already expired", now.Add(-time.Second), now, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cache := newTokenCache(10)
			cache.put("tok", cachedToken{p: alice, exp: c.until, until: c.until}, now)
			if e, ok := cache.get("tok", c.at); ok != c.hit || (ok && (e.p != alice || !e.exp.Equal(c.until))) {
				t.Errorf("got %+v %v, want hit=%v", e, ok, c.hit)
			}
			if _, ok := cache.get("other", now); ok {
				t.Error("hit on a token never verified")
			}
		})
	}
	t.Run("bounded", func(t *testing.T) {
		cache := newTokenCache(100)
		for i := range 1000 {
			cache.put(fmt.Sprint(i), cachedToken{p: alice, until: now.Add(time.Hour)}, now)
		}
		if n := len(cache.tokens); n > 100 {
			t.Errorf("cache holds %d tokens, max 100", n)
		}
		if _, ok := cache.get("999", now); !ok {
			t.Error("the newest token was evicted")
		}
	})
}

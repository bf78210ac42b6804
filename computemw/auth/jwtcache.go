package auth

import (
	"sync"
	"time"

	"github.com/computemw/kit/computemw"
)

// tokenCacheTTL bounds how long a verified token is trusted without being
// verified again, so that a key dropped from a key set stops being honoured
// within it.
const tokenCacheTTL = time.Minute

// tokenCache remembers recently verified tokens, keyed by the exact token,
// so that a client reusing its token does not pay for signature
// verification and JSON decoding on every request. Only tokens that
// verified are stored, each until the earlier of its expiry and
// tokenCacheTTL, and the cache holds at most max of them.
type tokenCache struct {
	max int

	mu     sync.RWMutex
	tokens map[string]cachedToken
}

type cachedToken struct {
	p     computemw.Principal
	until time.Time
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{max: max, tokens: make(map[string]cachedToken)}
}

// get returns the principal of a token verified before and still valid.
func (c *tokenCache) get(token string, now time.Time) (computemw.Principal, bool) {
	c.mu.RLock()
	e, ok := c.tokens[token]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return computemw.Principal{}, false
	}
	return e.p, true
}

// put remembers a verified token until until (at most tokenCacheTTL).
func (c *tokenCache) put(token string, p computemw.Principal, now, until time.Time) {
	if limit := now.Add(tokenCacheTTL); until.IsZero() || until.After(limit) {
		until = limit
	}
	if !now.Before(until) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.tokens) >= c.max {
		c.evict(now)
	}
	c.tokens[token] = cachedToken{p: p, until: until}
}

// evict drops expired tokens, and half of the others if that was not
// enough (map order makes the choice random).
func (c *tokenCache) evict(now time.Time) {
	for k, e := range c.tokens {
		if !now.Before(e.until) {
			delete(c.tokens, k)
		}
	}
	drop := len(c.tokens) - c.max/2
	for k := range c.tokens {
		if drop <= 0 {
			break
		}
		delete(c.tokens, k)
		drop--
	}
}

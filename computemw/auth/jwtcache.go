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
	exp   time.Time // the token's "exp", or zero
	until time.Time // when the entry stops serving
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{max: max, tokens: make(map[string]cachedToken)}
}

// get returns the entry of a token verified before and still valid.
func (c *tokenCache) get(token string, now time.Time) (cachedToken, bool) {
	c.mu.RLock()
	e, ok := c.tokens[token]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return cachedToken{}, false
	}
	return e, true
}

// put remembers a verified token until e.until (zero for no limit), and
// at most tokenCacheTTL.
func (c *tokenCache) put(token string, e cachedToken, now time.Time) {
	if limit := now.Add(tokenCacheTTL); e.until.IsZero() || e.until.After(limit) {
		e.until = limit
	}
	if !now.Before(e.until) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.tokens) >= c.max {
		c.evict(now)
	}
	c.tokens[token] = e
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

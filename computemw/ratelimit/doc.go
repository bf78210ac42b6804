// Package ratelimit is the request rate-limit policy of computemw, on
// github.com/ulule/limiter/v3. Each caller may make the number of requests
// of its plan's tier per fixed window, and, beside the tier, a number of
// requests per operation; a request must be within both. Its [Limiter] is
// a [computemw.Policy] that counts in Admit: once per HTTP request, once
// per WebSocket connection and again per WebSocket message that creates a
// sandbox, runs code or opens a terminal, once per GraphQL field and per
// Socket.IO event that does.
//
// # Wiring
//
// List it after the authenticator (computemw/auth), so that callers are
// counted by principal and by their plan's tier:
//
//	limits, err := ratelimit.New(ratelimit.Config{}) // default tiers and operation limits, in memory
//
// Several instances share their counts through Redis:
//
//	rates, err := redisstore.NewRateStore(ctx, rdb, "computemw:rate") // stores/redisstore
//	if err != nil {
//		return err
//	}
//	limits, err := ratelimit.New(ratelimit.Config{
//		Tiers: map[string]limiter.Rate{
//			"free": {Period: time.Hour, Limit: 20},
//			"team": {Period: time.Hour, Limit: 2000},
//		},
//		DefaultTier: "free",
//		Store:       rates,
//	})
//	kit, err := computemw.New(computemw.Config{
//		Providers: providers,
//		Policies:  []computemw.Policy{authn, roles, limits, quotas},
//	})
//
// # Who is counted
//
// A caller with a principal is counted by its ID, under the tier named by
// its Plan (DefaultTier when the plan has none). An anonymous caller is
// counted by client address under DefaultTier: an IPv4 address, or an
// IPv6 client by its /64; X-Forwarded-For is believed only from
// Config.TrustedProxies.
//
// # Headers and answers
//
// Every limited response carries the standard headers of the limit
// closest to being reached: RateLimit-Limit, RateLimit-Remaining,
// RateLimit-Reset (seconds), and RateLimit-Policy ("limit;w=seconds", one
// per limit that applies); with Config.LegacyHeaders also X-RateLimit-Limit,
// -Remaining and -Reset (Unix time).
//
//	status  code          message                          when
//	429     RATE_LIMITED  rate limit exceeded, retry later the tier's or the operation's limit is reached;
//	                                                       Retry-After: the window's end (at least 1 s)
//	503     UNAVAILABLE   rate limiter unavailable         the store failed (Retry-After: 1 s), unless FailOpen
//
// # Configuration
//
// [Config]:
//   - Tiers: rates by plan; nil means [DefaultTiers]: free 10, pro 100,
//     enterprise 1000 requests per 15 minutes. DefaultTier: "free".
//   - Ops: limits per operation, per caller; nil means [DefaultOpLimits]:
//     100 execute and 500 files per 15 minutes. An empty, non-nil map sets
//     none.
//   - ExemptOps: operations never counted; nil means [DefaultExemptOps],
//     the health and readiness probes.
//   - Store: nil means [NewMemoryStore], which counts for this instance
//     only; any [limiter.Store], such as stores/redisstore.NewRateStore,
//     shares counts between instances.
//   - FailOpen: admit requests (and log a warning) when the store fails,
//     instead of 503. Logger receives store failures.
//   - TrustedProxies, LegacyHeaders: see above.
package ratelimit

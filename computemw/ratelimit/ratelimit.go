package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/ulule/limiter/v3"
)

// Rate-limit response headers. The standard ones (the IETF draft that
// express-rate-limit's standardHeaders sends) are on every limited
// response; the legacy X-RateLimit-* ones only with Config.LegacyHeaders.
const (
	HeaderLimit     = "RateLimit-Limit"
	HeaderRemaining = "RateLimit-Remaining"
	HeaderReset     = "RateLimit-Reset"  // seconds until the window resets
	HeaderPolicy    = "RateLimit-Policy" // "limit;w=window-seconds", one per limit that applies

	HeaderRateLimitLimit     = "X-RateLimit-Limit"
	HeaderRateLimitRemaining = "X-RateLimit-Remaining"
	HeaderRateLimitReset     = "X-RateLimit-Reset" // Unix time, in seconds
)

// The header names in canonical form, computed once: they are set on
// every response.
var (
	canonicalLimit           = textproto.CanonicalMIMEHeaderKey(HeaderLimit)
	canonicalRemaining       = textproto.CanonicalMIMEHeaderKey(HeaderRemaining)
	canonicalReset           = textproto.CanonicalMIMEHeaderKey(HeaderReset)
	canonicalPolicy          = textproto.CanonicalMIMEHeaderKey(HeaderPolicy)
	canonicalLegacyLimit     = textproto.CanonicalMIMEHeaderKey(HeaderRateLimitLimit)
	canonicalLegacyRemaining = textproto.CanonicalMIMEHeaderKey(HeaderRateLimitRemaining)
	canonicalLegacyReset     = textproto.CanonicalMIMEHeaderKey(HeaderRateLimitReset)
)

// DefaultTiers returns the default rate limits by plan, as ComputeSDK's API
// guide sets them (see docs/architecture.md): free 10, pro 100 and
// enterprise 1000 requests per 15 minutes.
func DefaultTiers() map[string]limiter.Rate {
	const window = 15 * time.Minute
	return map[string]limiter.Rate{
		"free":       {Period: window, Limit: 10},
		"pro":        {Period: window, Limit: 100},
		"enterprise": {Period: window, Limit: 1000},
	}
}

// DefaultOpLimits returns the default limits per operation, counted for
// each caller beside its plan's tier: the guide's 100 executions and 500
// file operations per 15 minutes.
func DefaultOpLimits() map[computemw.Op]limiter.Rate {
	const window = 15 * time.Minute
	return map[computemw.Op]limiter.Rate{
		computemw.OpExecute: {Period: window, Limit: 100},
		computemw.OpFiles:   {Period: window, Limit: 500},
	}
}

// DefaultExemptOps are the operations that Config.ExemptOps
// leaves unlimited unless it says otherwise: the health and readiness
// probes, and the run of a queued job ("job-run", jobs.OpRun), whose
// submit was counted.
var DefaultExemptOps = []computemw.Op{computemw.OpHealth, computemw.OpReady, "job-run"}

// Config configures [New].
type Config struct {
	// Tiers are the rates by [computemw.Principal].Plan; nil means [DefaultTiers].
	Tiers map[string]limiter.Rate
	// DefaultTier is the tier of anonymous callers and of plans missing
	// from Tiers; default "free".
	DefaultTier string
	// Store counts requests; nil means [NewMemoryStore], which counts
	// for this instance only. Several instances share limits through a
	// shared store, such as limiter's Redis store (see
	// stores/redisstore.NewRateStore).
	Store limiter.Store
	// Ops are limits per operation, counted per caller beside (not
	// instead of) its tier: a request must be within both. Nil means
	// [DefaultOpLimits]; an empty, non-nil map sets none.
	Ops map[computemw.Op]limiter.Rate
	// LegacyHeaders also sends X-RateLimit-Limit, -Remaining and -Reset.
	LegacyHeaders bool
	// TrustedProxies are the proxies whose X-Forwarded-For is believed
	// when an anonymous caller is keyed by address (see [computemw.ClientIP]).
	TrustedProxies []netip.Prefix
	// ExemptOps are not limited. Nil means [DefaultExemptOps]; an empty,
	// non-nil slice limits every operation.
	ExemptOps []computemw.Op
	// FailOpen admits requests when the store fails. By default the kit
	// fails closed: 503 UNAVAILABLE.
	FailOpen bool
	// Logger receives store failures; default slog.Default().
	Logger *slog.Logger
}

// Limiter is the [computemw.Policy] of request rate limits: each caller gets the
// rate of its plan's tier per fixed window, keyed by principal ID, or by
// client address for anonymous callers. Every limited response carries
// RateLimit-Limit, -Remaining, -Reset and RateLimit-Policy (X-RateLimit-*
// too with Config.LegacyHeaders); past the limit the answer is 429
// RATE_LIMITED with Retry-After. Put it after the auth.Authenticator.
type Limiter struct {
	limiters    map[string]*limiter.Limiter
	ops         map[computemw.Op]*limiter.Limiter
	legacy      bool
	defaultTier string
	trusted     []netip.Prefix
	exempt      []computemw.Op
	failOpen    bool
	log         *slog.Logger
}

// New builds a Limiter from cfg.
func New(cfg Config) (*Limiter, error) {
	tiers := cfg.Tiers
	if tiers == nil {
		tiers = DefaultTiers()
	}
	rl := &Limiter{
		limiters:    make(map[string]*limiter.Limiter, len(tiers)),
		ops:         map[computemw.Op]*limiter.Limiter{},
		legacy:      cfg.LegacyHeaders,
		defaultTier: cfg.DefaultTier,
		trusted:     slices.Clone(cfg.TrustedProxies),
		exempt:      cfg.ExemptOps,
		failOpen:    cfg.FailOpen,
		log:         cfg.Logger,
	}
	if rl.defaultTier == "" {
		rl.defaultTier = "free"
	}
	if rl.exempt == nil {
		rl.exempt = DefaultExemptOps
	}
	if rl.log == nil {
		rl.log = slog.Default()
	}
	store := cfg.Store
	if store == nil {
		store = NewMemoryStore()
	}
	for name, rate := range tiers {
		if rate.Limit <= 0 || rate.Period <= 0 {
			return nil, fmt.Errorf("computemw: rate limit: tier %q: limit and period must be positive", name)
		}
		rl.limiters[name] = limiter.New(store, rate)
	}
	ops := cfg.Ops
	if ops == nil {
		ops = DefaultOpLimits()
	}
	for op, rate := range ops {
		if rate.Limit <= 0 || rate.Period <= 0 {
			return nil, fmt.Errorf("computemw: rate limit: op %q: limit and period must be positive", op)
		}
		rl.ops[op] = limiter.New(store, rate)
	}
	if _, ok := rl.limiters[rl.defaultTier]; !ok {
		return nil, fmt.Errorf("computemw: rate limit: default tier %q is not in Tiers", rl.defaultTier)
	}
	for _, p := range rl.trusted {
		if !p.IsValid() {
			return nil, errors.New("computemw: rate limit: invalid trusted proxy prefix")
		}
	}
	return rl, nil
}

// Admit implements [computemw.Policy]: it counts the request against its
// caller's tier and against the caller's limit for the operation, if any.
// The response headers describe the limit closest to being reached.
func (rl *Limiter) Admit(ctx context.Context, op computemw.Op, r *computemw.Request) (context.Context, error) {
	if slices.Contains(rl.exempt, op) {
		return ctx, nil
	}
	tier, caller := rl.identify(ctx, r)
	tl := rl.limiters[tier]
	lc, err := tl.Get(ctx, tier+":"+caller)
	if err != nil {
		return ctx, rl.storeFailed(ctx, err)
	}
	policies := []limiter.Rate{tl.Rate}
	binding := lc
	if ol, ok := rl.ops[op]; ok {
		oc, err := ol.Get(ctx, "op:"+string(op)+":"+caller)
		if err != nil {
			return ctx, rl.storeFailed(ctx, err)
		}
		policies = append(policies, ol.Rate)
		if oc.Reached && !lc.Reached || oc.Remaining < lc.Remaining && oc.Reached == lc.Reached {
			binding = oc
		}
	}
	if h := computemw.ResponseHeader(ctx); h != nil {
		rl.setHeaders(h, binding, policies)
	}
	if binding.Reached {
		wait := max(time.Until(time.Unix(binding.Reset, 0)), time.Second)
		return ctx, &computemw.Error{Code: computemw.CodeRateLimited, Message: "rate limit exceeded, retry later", RetryAfter: wait}
	}
	return ctx, nil
}

// setHeaders writes the standard headers (and the legacy ones when asked)
// of the binding limit, and the policy of each limit that applies.
func (rl *Limiter) setHeaders(h http.Header, binding limiter.Context, policies []limiter.Rate) {
	reset := max(time.Until(time.Unix(binding.Reset, 0)).Round(time.Second), 0)
	h[canonicalLimit] = []string{strconv.FormatInt(binding.Limit, 10)}
	h[canonicalRemaining] = []string{strconv.FormatInt(binding.Remaining, 10)}
	h[canonicalReset] = []string{strconv.FormatInt(int64(reset/time.Second), 10)}
	pol := make([]string, 0, len(policies))
	for _, p := range policies {
		pol = append(pol, strconv.FormatInt(p.Limit, 10)+";w="+strconv.FormatInt(int64(p.Period/time.Second), 10))
	}
	h[canonicalPolicy] = []string{strings.Join(pol, ", ")}
	if rl.legacy {
		h[canonicalLegacyLimit] = []string{strconv.FormatInt(binding.Limit, 10)}
		h[canonicalLegacyRemaining] = []string{strconv.FormatInt(binding.Remaining, 10)}
		h[canonicalLegacyReset] = []string{strconv.FormatInt(binding.Reset, 10)}
	}
}

// storeFailed is the answer when the store cannot count: 503, or admit
// with a warning when failing open.
func (rl *Limiter) storeFailed(ctx context.Context, err error) error {
	if rl.failOpen {
		rl.log.WarnContext(ctx, "computemw: rate limiter store failed; admitting (fail open)", "requestId", computemw.RequestIDFrom(ctx), "error", err)
		return nil
	}
	return &computemw.Error{Code: computemw.CodeUnavailable, Message: "rate limiter unavailable", RetryAfter: time.Second,
		Err: fmt.Errorf("rate limiter store: %w", err)}
}

// Authorize implements [computemw.Policy]; requests are counted in Admit.
func (rl *Limiter) Authorize(context.Context, *computemw.Action) error { return nil }

// identify returns the caller's tier and counting key: the principal's ID,
// else its client address (an IPv6 client by its /64, which one host
// usually has whole).
func (rl *Limiter) identify(ctx context.Context, r *computemw.Request) (tier, caller string) {
	if p, ok := computemw.PrincipalFrom(ctx); ok && p.ID != "" {
		tier = p.Plan
		if _, ok := rl.limiters[tier]; !ok {
			tier = rl.defaultTier
		}
		return tier, "p:" + p.ID
	}
	ip := computemw.ClientIP(ctx, r, rl.trusted)
	switch {
	case !ip.IsValid():
		return rl.defaultTier, "ip:unknown"
	case ip.Is6():
		pfx, _ := ip.Prefix(64)
		return rl.defaultTier, "ip:" + pfx.String()
	}
	return rl.defaultTier, "ip:" + ip.String()
}

package computemw

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Config configures a [Kit]. Zero fields take the documented defaults.
type Config struct {
	// Providers are registered by their Name. At least one is required.
	Providers []Provider
	// DefaultProvider is used when a request names none; default: the
	// first of Providers.
	DefaultProvider string
	// MaxSandboxes caps the sandboxes alive at once (per-request and
	// sessions together). Default 64. Past it, a creation waits in a
	// queue for a sandbox to be destroyed: callers take turns, each's
	// creations first come first served.
	MaxSandboxes int
	// QueueDepth caps the creations waiting at once (default 1024; in a
	// full queue, a caller with fewer waiting than another takes the
	// place of the other's newest, which is refused), and
	// QueueTimeout how long one waits (default 60s: a burst of 1000
	// drains within it on two cores); past either, or
	// when its request ends, it fails with 503 UNAVAILABLE and
	// Retry-After. A negative QueueTimeout turns queueing off (fail at
	// once at capacity).
	QueueDepth   int
	QueueTimeout time.Duration
	// MaxBodyBytes caps a request body; past it the answer is 413.
	// Default 1 MiB.
	MaxBodyBytes int64
	// DefaultTimeout is an execution's wall-clock limit when the request
	// gives none. Default 30s.
	DefaultTimeout time.Duration
	// MaxTimeout is the largest timeout a request may ask for; a larger
	// one is a 400. Default 5m.
	MaxTimeout time.Duration
	// DestroyTimeout bounds how long destroying one sandbox may take after
	// the request that owned it is gone. Default 10s.
	DestroyTimeout time.Duration
	// DestroyBeforeReturn destroys a sandbox made for one execution before
	// [Kit.Execute] (or [Prepared.Release]) returns, so before the route
	// answers, instead of in the background after. Set it where the
	// process may be frozen or ended once it answers (AWS Lambda, Vercel):
	// a destroy left running then never finishes, and the sandbox
	// outlives its invocation. Default false: answers do not wait.
	DestroyBeforeReturn bool
	// StrictExitCode turns a program's non-zero exit into 400
	// EXECUTION_ERROR instead of 200 with success:false.
	StrictExitCode bool
	// AllowUnknownFields is the lenient mode of requests: JSON fields the
	// kit does not know, in a body, a WebSocket message or a Socket.IO
	// event, are ignored. By default such a field is refused with 400
	// BAD_REQUEST naming it, so that a typo ("stdn") is not silently
	// dropped.
	AllowUnknownFields bool
	// SessionTTL is a session sandbox's lifetime after its last use when
	// POST /sandboxes gives none (default 15m); MaxSessionTTL the longest
	// one may ask for (default 24h).
	SessionTTL    time.Duration
	MaxSessionTTL time.Duration
	// MaxSessions caps live sessions in total (default MaxSandboxes/2,
	// so stateless requests keep room); MaxSessionsPerPrincipal per
	// caller (default 10).
	MaxSessions             int
	MaxSessionsPerPrincipal int
	// MaxSessionLifetime is the longest a session lives from its
	// creation, however often it is used (default 24h); a policy may
	// lower it per caller (Action.MaxSessionLifetime, as quota plans do).
	MaxSessionLifetime time.Duration
	// MaxSandboxesPerPrincipal caps the sandboxes one caller holds at
	// once: request sandboxes, sessions and connections' sandboxes
	// (default MaxSandboxes less an eighth, so that one caller cannot
	// take every slot); a policy may lower it (Action.MaxSandboxes). A
	// creation past it waits, within QueueTimeout and its request, for
	// one of the caller's own sandboxes to go, then fails with 429
	// RATE_LIMITED.
	MaxSandboxesPerPrincipal int
	// MaxSessionExecutions caps the executions running at once in one
	// session on this instance (default 8); one past it is refused with
	// 429 RATE_LIMITED, so that one session cannot queue work without
	// bound.
	MaxSessionExecutions int
	// MaxReadBytes caps the file a read of POST /files returns in its JSON
	// body (default 1 MiB); larger files are streamed by the download
	// action.
	MaxReadBytes int64
	// MaxFileTransfers caps file reads, downloads and writes in progress at
	// once (default 16); past it the answer is 503 with Retry-After.
	MaxFileTransfers int
	// MaxUploadBytes caps one file written from a stream (a raw PUT or a
	// part of a multipart upload, [FileOp].Reader): default 64 MiB; past
	// it the answer is 413 PAYLOAD_TOO_LARGE and nothing is kept. A
	// provider's own cap may be lower.
	MaxUploadBytes int64
	// UsageCheckInterval is how often an open terminal's usage so far is
	// checked against the policies (a spent quota ends it), and how often
	// every sandbox's usage is read for the [UsageMeter]s (a quota charges
	// background processes, and stops them once it is spent); default 5s.
	UsageCheckInterval time.Duration
	// WebSocket tunes the WebSocket protocol of GET /ws.
	WebSocket WSConfig
	// HealthInterval is how long a provider probe result is reused by
	// /health. Default 10s.
	HealthInterval time.Duration
	// HealthTimeout bounds one provider probe. Default 10s.
	HealthTimeout time.Duration
	// TrustedProxies are the proxies whose X-Forwarded-For is believed
	// when the kit tells anonymous callers apart by address (their
	// sessions). Behind a reverse proxy without authentication, set it, or
	// every caller is the proxy's address.
	TrustedProxies []netip.Prefix
	// AllowedHosts are the Host names (name, or name:port) the kit answers
	// on; any other is 403 FORBIDDEN before any policy runs. Set it when
	// serving without authentication, so that a DNS-rebound page cannot
	// reach the kit through a name of its own. Default: any host.
	AllowedHosts []string
	// AllowedOrigins are the browser origins ("https://app.example.com",
	// "*" for any) whose pages may open the WebSocket; empty means pages of
	// AllowedHosts (or, without that, same-origin pages).
	AllowedOrigins []string
	// Logger receives the kit's logs; default slog.Default().
	Logger *slog.Logger
	// Policies guard every operation, in order (authentication first).
	// The hooks of a policy that also observes (a quota; see [Hooks]) are
	// registered as well.
	Policies []Policy
	// Hooks observe sandboxes and executions, in order, after the kit's
	// execution log and Metrics. Hooks listed more than once (here, by a
	// policy, by Metrics) are called once.
	Hooks []*Hooks
	// Tracer, when set, traces every governed operation: a span per step
	// (admission, policies, create, execution, destroy) in the caller's
	// trace, with the provider's calls nested in them (oteltrace.New
	// over an OpenTelemetry TracerProvider). nil traces nothing.
	Tracer Tracer
	// Metrics observes the kit and serves GET /metrics of the route group
	// (prommetrics.New); nil means no metrics (GET /metrics is 404).
	Metrics MetricsExporter
	// Strategy picks the provider of a creation that names none
	// ([Priority], [Fallback], [RoundRobin]); nil means DefaultProvider.
	// A request that names a provider uses exactly that one.
	Strategy Strategy
	// UnhealthyAfter is how many provider errors in a row mark a provider
	// unhealthy: the strategy skips it until a health probe succeeds.
	// Default 3.
	UnhealthyAfter int
	// SessionStore keeps the session book: every session's record and the
	// session limits. nil keeps it in this process's memory, for this kit
	// only. A shared one (stores/redisstore, stores/pgstore) lets every
	// instance sharing it serve, keep alive and destroy a session of a
	// remote provider (one implementing [Attacher]), and holds the session
	// limits across instances.
	SessionStore SessionStore
	// InstanceURL is this instance's own base URL of the route group
	// ("http://10.0.0.7:8080/api"). With a SessionStore, a request for a
	// session of a provider that only its instance reaches (local) that
	// lands on another instance is redirected there (307); without it,
	// the answer is 421 WRONG_INSTANCE naming the owner.
	InstanceURL string
	// InstanceID names this instance in session records; default
	// InstanceURL, else a random ID.
	InstanceID string
	// SessionReapInterval is how often this instance looks in the session
	// book for sessions whose TTL passed (those it holds also end on their
	// own timer) and drops lapsed places. Default 30s.
	SessionReapInterval time.Duration
}

func (c *Config) setDefaults() {
	if c.MaxSandboxes <= 0 {
		c.MaxSandboxes = 64
	}
	if c.QueueDepth <= 0 {
		c.QueueDepth = 1024
	}
	if c.QueueTimeout == 0 {
		c.QueueTimeout = time.Minute
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.DefaultTimeout <= 0 {
		c.DefaultTimeout = 30 * time.Second
	}
	if c.MaxTimeout <= 0 {
		c.MaxTimeout = 5 * time.Minute
	}
	if c.MaxTimeout < c.DefaultTimeout {
		c.MaxTimeout = c.DefaultTimeout
	}
	if c.SessionTTL <= 0 {
		c.SessionTTL = 15 * time.Minute
	}
	if c.MaxSessionTTL <= 0 {
		c.MaxSessionTTL = 24 * time.Hour
	}
	if c.MaxSessionTTL < c.SessionTTL {
		c.MaxSessionTTL = c.SessionTTL
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = max(1, c.MaxSandboxes/2)
	}
	if c.MaxSessionsPerPrincipal <= 0 {
		c.MaxSessionsPerPrincipal = 10
	}
	if c.MaxSessionLifetime <= 0 {
		c.MaxSessionLifetime = 24 * time.Hour
	}
	if c.MaxSandboxesPerPrincipal <= 0 {
		c.MaxSandboxesPerPrincipal = max(1, c.MaxSandboxes-c.MaxSandboxes/8)
	}
	if c.MaxSessionExecutions <= 0 {
		c.MaxSessionExecutions = 8
	}
	if c.DestroyTimeout <= 0 {
		c.DestroyTimeout = 10 * time.Second
	}
	if c.HealthInterval <= 0 {
		c.HealthInterval = 10 * time.Second
	}
	if c.HealthTimeout <= 0 {
		c.HealthTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxReadBytes <= 0 {
		c.MaxReadBytes = 1 << 20
	}
	if c.MaxFileTransfers <= 0 {
		c.MaxFileTransfers = 16
	}
	if c.MaxUploadBytes <= 0 {
		c.MaxUploadBytes = 64 << 20
	}
	if c.UsageCheckInterval <= 0 {
		c.UsageCheckInterval = 5 * time.Second
	}
	if c.UnhealthyAfter <= 0 {
		c.UnhealthyAfter = 3
	}
	if c.SessionReapInterval <= 0 {
		c.SessionReapInterval = 30 * time.Second
	}
	if c.InstanceID == "" {
		c.InstanceID = c.InstanceURL
	}
	if c.InstanceID == "" {
		c.InstanceID = randomHex(8)
	}
	c.WebSocket.setDefaults()
}

// Kit is the embeddable engine: it owns providers, live sandboxes and the
// HTTP contract. Build it once with [New] and share it; all methods are safe
// for concurrent use.
type Kit struct {
	cfg       Config
	providers registry
	log       *slog.Logger
	health    health
	hooks     []observer
	meters    []UsageMeter // the policies that meter sandboxes
	sessions  sessions
	owned     owned // sandboxes held by each caller
	transfers semaphore
	conns     connections
	runtimes  runtimeCache // GET /languages: each provider's runtimes, once listed
	ph        providerHealth
	bg        background

	mu       sync.Mutex
	live     map[*governed]struct{}
	reserved int            // sandboxes being created plus live ones
	queue    admissionQueue // creations waiting for a slot
	closed   bool
	drained  chan struct{} // closed when closed && reserved == 0
}

// New builds a Kit from cfg.
func New(cfg Config) (*Kit, error) {
	cfg.setDefaults()
	if len(cfg.Providers) == 0 {
		return nil, errors.New("computemw: config: at least one provider is required")
	}
	k := &Kit{
		cfg:     cfg,
		log:     cfg.Logger,
		live:    make(map[*governed]struct{}),
		drained: make(chan struct{}),
	}
	k.sessions.store = cfg.SessionStore
	if k.sessions.store == nil {
		k.sessions.store = &memorySessionStore{}
	}
	k.sessions.byID = make(map[string]*session)
	k.sessions.places = make(map[string][]string)
	for _, p := range cfg.Providers {
		if err := k.providers.Register(p); err != nil {
			return nil, err
		}
	}
	if k.cfg.DefaultProvider == "" {
		k.cfg.DefaultProvider = cfg.Providers[0].Name()
	}
	if _, ok := k.providers.Get(k.cfg.DefaultProvider); !ok {
		return nil, fmt.Errorf("computemw: config: default provider %q is not registered", k.cfg.DefaultProvider)
	}
	if err := k.checkStrategy(); err != nil {
		return nil, err
	}
	if k.cfg.Strategy != nil && cfg.DefaultProvider == "" {
		k.cfg.DefaultProvider = k.cfg.Strategy.Providers()[0]
	}
	k.health.init(k)
	k.ph.init(k.cfg.UnhealthyAfter)
	k.bg.init()
	k.transfers = make(semaphore, k.cfg.MaxFileTransfers)
	k.hooks = []observer{execLog{k: k}}
	seen := map[*Hooks]bool{}
	addHooks := func(h *Hooks) {
		if h == nil || seen[h] {
			return
		}
		seen[h] = true
		k.hooks = append(k.hooks, hookFuncs{h})
	}
	if cfg.Metrics != nil {
		addHooks(cfg.Metrics.Hooks())
	}
	for _, h := range cfg.Hooks {
		addHooks(h)
	}
	for _, p := range cfg.Policies {
		if p == nil {
			return nil, errors.New("computemw: config: nil policy")
		}
		if hp, ok := p.(hooksProvider); ok {
			addHooks(hp.Hooks())
		}
	}
	k.meters = k.usageMeters()
	if cfg.Metrics != nil {
		if err := cfg.Metrics.Bind(k); err != nil {
			return nil, fmt.Errorf("computemw: config: %w", err)
		}
	}
	if k.cfg.SessionStore != nil {
		k.startReaper() // other instances' expired sessions are reaped too
	}
	return k, nil
}

// extensions lists what the kit was configured with that may offer an
// optional interface ([UsageMeter], [QueueObserver]): its policies, then
// Metrics.
func (k *Kit) extensions() []any {
	out := make([]any, 0, len(k.cfg.Policies)+1)
	for _, p := range k.cfg.Policies {
		out = append(out, p)
	}
	if k.cfg.Metrics != nil {
		out = append(out, k.cfg.Metrics)
	}
	return out
}

// Config returns the kit's configuration with defaults applied.
func (k *Kit) Config() Config { return k.cfg }

// provider returns the provider registered under name; "" is the default.
// It is not exported: sandboxes reach applications only through the
// governed path.
func (k *Kit) provider(name string) (Provider, error) {
	if name == "" {
		name = k.cfg.DefaultProvider
	}
	p, ok := k.providers.Get(name)
	if !ok {
		names := k.providers.Names()
		return nil, &Error{Code: CodeBadRequest, Message: fmt.Sprintf("unknown provider %q (configured: %s)", truncate(name, 64), strings.Join(names, ", ")),
			Details: map[string][]string{"providers": names}}
	}
	return p, nil
}

// Providers returns the registered provider names, sorted.
func (k *Kit) Providers() []string { return k.providers.Names() }

// Languages returns the languages the named provider runs, or nil when it
// does not say (it has no LanguageLister) or is unknown.
func (k *Kit) Languages(provider string) []string {
	p, ok := k.providers.Get(provider)
	if !ok {
		return nil
	}
	if ll, ok := p.(LanguageLister); ok {
		return ll.Languages()
	}
	return nil
}

// LiveSandboxes returns how many sandboxes the kit holds right now.
func (k *Kit) liveSandboxes() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.live)
}

// Close shuts the kit down: new sandboxes are refused with 503 at once,
// sandboxes in use may finish until ctx is done, then every sandbox left is
// destroyed, and providers and policies holding resources (a
// [Closer], such as an authenticator refreshing keys) are closed. It returns ctx's
// error if it had to cut executions short, joined with any destroy error.
func (k *Kit) Close(ctx context.Context) error {
	k.mu.Lock()
	if !k.closed {
		k.closed = true
		k.refuseQueued()
		if k.reserved == 0 {
			close(k.drained)
		}
	}
	k.mu.Unlock()
	k.bg.stop()
	k.closeSessions(ctx)

	var errs []error
	select {
	case <-k.drained:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("computemw: close: %w", ctx.Err()))
	}

	k.mu.Lock()
	left := make([]*governed, 0, len(k.live))
	for m := range k.live {
		left = append(left, m)
	}
	k.mu.Unlock()
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.cfg.DestroyTimeout)
	defer cancel()
	for _, m := range left {
		if err := m.Destroy(dctx); err != nil {
			errs = append(errs, err)
		}
	}
	for _, name := range k.providers.Names() {
		p, _ := k.providers.Get(name)
		if c, ok := p.(Closer); ok {
			if err := c.Close(dctx); err != nil {
				errs = append(errs, fmt.Errorf("computemw: close provider %q: %w", name, err))
			}
		}
	}
	for _, p := range k.cfg.Policies {
		if c, ok := p.(Closer); ok {
			if err := c.Close(dctx); err != nil {
				errs = append(errs, fmt.Errorf("computemw: close policy %T: %w", p, err))
			}
		}
	}
	return errors.Join(errs...)
}

// semaphore bounds work in progress; its zero value admits nothing.
type semaphore chan struct{}

// TryAcquire takes a place without waiting.
func (s semaphore) TryAcquire() bool {
	select {
	case s <- struct{}{}:
		return true
	default:
		return false
	}
}

// Release gives a place back.
func (s semaphore) Release() { <-s }

package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/computemw/kit/computemw"
)

// Config configures [New]. At least one scheme, JWT or
// APIKeys, is required.
type Config struct {
	// JWT verifies bearer tokens (Authorization: Bearer <jwt>).
	JWT *JWTConfig
	// APIKeys authenticates server-to-server callers that send
	// "X-API-Key: <key>" or "Authorization: ApiKey <key>". It maps the
	// hex SHA-256 of each key (see [HashAPIKey]) to its principal, so the
	// server never holds the keys themselves.
	APIKeys map[string]computemw.Principal
	// PublicOps need no credentials. Nil means [DefaultPublicOps]; an
	// empty, non-nil slice makes every operation require credentials.
	PublicOps []computemw.Op
	// Realm is the realm of the WWW-Authenticate challenge sent with a
	// 401; default "computemw".
	Realm string
	// Now is the clock that tokens' "exp", "nbf" and "iat" are checked
	// against; default time.Now. Tests set it.
	Now func() time.Time
	// Logger receives failed fetches of the JWT key set; default
	// slog.Default().
	Logger *slog.Logger
}

// DefaultPublicOps are the operations that need no credentials unless
// Config.PublicOps says otherwise: the health and readiness probes.
// /metrics is not among them; add [computemw.OpMetrics] to expose it to a scraper
// without credentials, or give the scraper an API key.
var DefaultPublicOps = []computemw.Op{computemw.OpHealth, computemw.OpReady}

// Authenticator is the [computemw.Policy] that establishes who the caller is: its
// Admit verifies a JWT or an API key and puts the caller's [computemw.Principal] in
// the context, where [computemw.PrincipalFrom] finds it. Missing or invalid
// credentials are 401 UNAUTHORIZED with a WWW-Authenticate challenge.
// Put it first in Config.Policies: RBAC, rate limits and quotas read the
// principal it sets.
//
// A request whose context already carries a principal (an app that
// authenticated the caller itself and called [computemw.WithPrincipal]) is admitted
// as that principal. When that principal came from a token this
// Authenticator verified (a WebSocket message is admitted with its
// connection's context), the token's expiry is checked again: a connection
// cannot outlive its token.
type Authenticator struct {
	jwt       *jwtVerifier
	apiKeys   apiKeys
	public    []computemw.Op
	challenge string
	now       func() time.Time
	leeway    time.Duration // of JWTConfig
}

// New builds an Authenticator from cfg.
func New(cfg Config) (*Authenticator, error) {
	if cfg.JWT == nil && len(cfg.APIKeys) == 0 {
		return nil, errors.New("computemw: auth: configure JWT or APIKeys")
	}
	a := &Authenticator{public: cfg.PublicOps, now: cfg.Now}
	if a.public == nil {
		a.public = DefaultPublicOps
	}
	if a.now == nil {
		a.now = time.Now
	}
	realm := cfg.Realm
	if realm == "" {
		realm = "computemw"
	}
	if strings.ContainsAny(realm, "\"\\\r\n") {
		return nil, fmt.Errorf("computemw: auth: realm %q contains a quote, backslash or newline", realm)
	}
	a.challenge = `Bearer realm="` + realm + `"`
	if cfg.JWT != nil {
		log := cfg.Logger
		if log == nil {
			log = slog.Default()
		}
		v, err := newJWTVerifier(*cfg.JWT, a.now, log)
		if err != nil {
			return nil, fmt.Errorf("computemw: auth: %w", err)
		}
		a.jwt, a.leeway = v, cfg.JWT.Leeway
	}
	keys, err := newAPIKeys(cfg.APIKeys)
	if err != nil {
		a.Close(context.Background())
		return nil, fmt.Errorf("computemw: auth: %w", err)
	}
	a.apiKeys = keys
	return a, nil
}

// Admit implements [computemw.Policy]: it authenticates the caller of every
// operation that is not public.
func (a *Authenticator) Admit(ctx context.Context, op computemw.Op, r *computemw.Request) (context.Context, error) {
	if slices.Contains(a.public, op) {
		return ctx, nil
	}
	if p, ok := computemw.PrincipalFrom(ctx); ok {
		if a.expired(ctx, p) {
			return ctx, a.unauthorized(ctx, "invalid_token", "token expired")
		}
		return ctx, nil
	}
	scheme, cred := credentials(r.Header)
	var (
		p   computemw.Principal
		exp time.Time
		err error
	)
	switch {
	case scheme == schemeNone:
		return ctx, a.unauthorized(ctx, "", "authentication required")
	case scheme == schemeBearer && a.jwt != nil:
		p, exp, err = a.jwt.verify(ctx, cred)
	case scheme == schemeAPIKey && a.apiKeys != nil:
		p, err = a.apiKeys.lookup(cred)
	case scheme == schemeAPIKey:
		a.challengeOn(ctx, "invalid_token")
		return ctx, errInvalidAPIKey(reasonNoAPIKeys)
	default:
		return ctx, a.unauthorized(ctx, "invalid_request", "unsupported authentication scheme")
	}
	if err != nil {
		if computemw.AsError(err).Code == computemw.CodeUnauthorized {
			a.challengeOn(ctx, "invalid_token")
		}
		return ctx, err
	}
	ctx = computemw.WithPrincipal(ctx, p)
	if !exp.IsZero() {
		ctx = a.withExpiry(ctx, p, exp)
	}
	return ctx, nil
}

// Challenge implements [httpapi.Challenger]: the WWW-Authenticate value
// of a 401, with this authenticator's realm.
func (a *Authenticator) Challenge() string { return a.challenge }

// Close stops the background refresh of the JWT key set (JWTConfig.JWKSURL)
// and cancels a fetch in flight; tokens are then verified with the keys
// held. Call it once the Authenticator is no longer used, such as after
// Kit.Close; it has the signature of [computemw.Closer]. It is idempotent,
// returns nil, and does nothing for an Authenticator without a key set.
func (a *Authenticator) Close(context.Context) error {
	if a.jwt != nil && a.jwt.jwks != nil {
		a.jwt.jwks.close()
	}
	return nil
}

// Authorize implements [computemw.Policy]; authentication has nothing to add there.
func (a *Authenticator) Authorize(context.Context, *computemw.Action) error { return nil }

// unauthorized sets the challenge and returns a 401 with msg.
func (a *Authenticator) unauthorized(ctx context.Context, code, msg string) error {
	a.challengeOn(ctx, code)
	return &computemw.Error{Code: computemw.CodeUnauthorized, Message: msg}
}

// challengeOn puts the WWW-Authenticate challenge (RFC 6750) on the
// response, with an error code when the client sent something wrong.
func (a *Authenticator) challengeOn(ctx context.Context, code string) {
	h := computemw.ResponseHeader(ctx)
	if h == nil {
		return
	}
	if code == "" {
		h.Set("WWW-Authenticate", a.challenge)
		return
	}
	h.Set("WWW-Authenticate", a.challenge+`, error="`+code+`"`)
}

type authScheme int

const (
	schemeNone authScheme = iota
	schemeBearer
	schemeAPIKey
	schemeOther
)

// credentials finds the caller's credentials: an Authorization header
// (Bearer or ApiKey), else an X-API-Key header.
func credentials(h computemw.Header) (authScheme, string) {
	if h == nil {
		return schemeNone, ""
	}
	if v := h.Get("Authorization"); v != "" {
		scheme, cred, _ := strings.Cut(strings.TrimSpace(v), " ")
		cred = strings.TrimSpace(cred)
		if cred == "" {
			return schemeOther, ""
		}
		switch {
		case strings.EqualFold(scheme, "Bearer"):
			return schemeBearer, cred
		case strings.EqualFold(scheme, "ApiKey"):
			return schemeAPIKey, cred
		}
		return schemeOther, ""
	}
	if v := strings.TrimSpace(h.Get("X-API-Key")); v != "" {
		return schemeAPIKey, v
	}
	return schemeNone, ""
}

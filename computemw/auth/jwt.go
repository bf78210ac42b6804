package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/golang-jwt/jwt/v5"
)

// JWTConfig configures the verification of bearer tokens.
type JWTConfig struct {
	// Algorithms is the explicit allow-list of signing algorithms, such as
	// []string{"RS256"}. A token signed with any other algorithm, "none"
	// included, is refused. Required.
	Algorithms []string
	// Keys verify tokens. Each key is bound to one algorithm, so a public
	// RSA key can never be used as an HMAC secret (key confusion).
	Keys []JWTKey
	// JWKSURL, when set, is a JSON Web Key Set (at most 1 MiB) that holds
	// the keys of tokens whose kid is not among Keys; a token without kid
	// may be verified by any of its keys for the token's algorithm. New
	// fetches the set, waiting up to 10 seconds; if that fails, tokens are
	// refused with 503 until a fetch succeeds. The set is then refreshed
	// in the background every JWKSMaxAge, so a request whose kid is known
	// never waits on the issuer. A token with an unknown kid refetches the
	// set at most once per JWKSMinRefresh, so tokens with made-up kids
	// cannot turn into a load on the issuer. A failed fetch, or a set with
	// no usable key, keeps the cached set. Each key is bound to one
	// algorithm of Algorithms: its "alg", else RS256 for an RSA key,
	// ES256/384/512 by curve for an EC key, EdDSA for an Ed25519 key;
	// other keys, and symmetric keys, are ignored. [Authenticator.Close]
	// stops the refresh.
	JWKSURL string
	// JWKSMinRefresh is the least time between two fetches of JWKSURL
	// for unknown kids; default 1 minute.
	JWKSMinRefresh time.Duration
	// JWKSMaxAge is how often the key set is refreshed in the background
	// (so that revoked keys drop out and new ones come in); default 1
	// hour.
	JWKSMaxAge time.Duration
	// JWKSRefreshWait is the longest a request with an unknown kid waits
	// for the key set to be refetched; default 2 seconds.
	JWKSRefreshWait time.Duration
	// HTTPClient fetches JWKSURL; default a client of its own. Each fetch
	// is bounded by a context deadline.
	HTTPClient *http.Client
	// Issuer, when set, must equal the token's "iss".
	Issuer string
	// Audience, when set, must be among the token's "aud".
	Audience string
	// Leeway tolerates clock skew in "exp", "nbf" and "iat".
	Leeway time.Duration
	// AllowNoExpiration accepts tokens without "exp". By default such a
	// token, valid forever, is refused.
	AllowNoExpiration bool
	// Claims names the claims the [computemw.Principal] is read from; see
	// [ClaimNames]. Ignored when Principal is set.
	Claims ClaimNames
	// Principal, when set, maps a verified token's claims to the
	// principal instead of Claims. An error refuses the token (401).
	Principal func(claims jwt.MapClaims) (computemw.Principal, error)
	// CacheSize is how many verified tokens are remembered, each for at
	// most a minute and never past its expiry, so that a client reusing
	// its token is not verified again on every request. Default 10,000;
	// negative disables the cache.
	CacheSize int
}

// JWTKey is one key that verifies tokens.
type JWTKey struct {
	// ID matches a token's "kid" header. A key without ID verifies tokens
	// with any kid, or none.
	ID string
	// Algorithm is the one algorithm the key verifies: "HS256", "RS256",
	// "ES256", "EdDSA", and the other sizes of those families.
	Algorithm string
	// Key verifies signatures: a []byte secret (at least 32 bytes) for
	// HS*, an *rsa.PublicKey (at least 2048 bits) for RS* and PS*, an
	// *ecdsa.PublicKey on the algorithm's curve for ES*, an
	// ed25519.PublicKey for EdDSA.
	Key any
}

// ClaimNames name the claims of a token that make its [computemw.Principal]. Empty
// fields take the defaults: "sub" for ID, "role" for Role, "plan" for Plan.
// The ID claim is required; the others may be absent.
type ClaimNames struct {
	ID, Role, Plan string
}

// maxTokenBytes bounds what is parsed of a token.
const maxTokenBytes = 8 << 10

// jwtVerifier verifies tokens and maps their claims to principals.
type jwtVerifier struct {
	parser  *jwt.Parser
	keys    []JWTKey
	jwks    *jwks
	names   ClaimNames
	mapping func(jwt.MapClaims) (computemw.Principal, error)
	leeway  time.Duration
	now     func() time.Time
	cache   *tokenCache // nil when disabled
}

func newJWTVerifier(cfg JWTConfig, now func() time.Time, log *slog.Logger) (*jwtVerifier, error) {
	if len(cfg.Algorithms) == 0 {
		return nil, errors.New("jwt: Algorithms (the allow-list) is required")
	}
	for _, alg := range cfg.Algorithms {
		if keyKind(alg) == "" {
			return nil, fmt.Errorf("jwt: algorithm %q is not supported", alg)
		}
	}
	if len(cfg.Keys) == 0 && cfg.JWKSURL == "" {
		return nil, errors.New("jwt: configure Keys or JWKSURL")
	}
	for i, k := range cfg.Keys {
		if !slices.Contains(cfg.Algorithms, k.Algorithm) {
			return nil, fmt.Errorf("jwt: key %d (%q): algorithm %q is not in Algorithms", i, k.ID, k.Algorithm)
		}
		if err := checkKey(k.Algorithm, k.Key); err != nil {
			return nil, fmt.Errorf("jwt: key %d (%q): %w", i, k.ID, err)
		}
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods(cfg.Algorithms), jwt.WithLeeway(cfg.Leeway), jwt.WithIssuedAt(), jwt.WithTimeFunc(now)}
	if !cfg.AllowNoExpiration {
		opts = append(opts, jwt.WithExpirationRequired())
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	v := &jwtVerifier{parser: jwt.NewParser(opts...), keys: slices.Clone(cfg.Keys), names: cfg.Claims, mapping: cfg.Principal, leeway: cfg.Leeway, now: now}
	switch {
	case cfg.CacheSize == 0:
		v.cache = newTokenCache(10_000)
	case cfg.CacheSize > 0:
		v.cache = newTokenCache(cfg.CacheSize)
	}
	if v.names.ID == "" {
		v.names.ID = "sub"
	}
	if v.names.Role == "" {
		v.names.Role = "role"
	}
	if v.names.Plan == "" {
		v.names.Plan = "plan"
	}
	if cfg.JWKSURL != "" {
		j, err := newJWKS(cfg, log)
		if err != nil {
			return nil, err
		}
		v.jwks = j
	}
	return v, nil
}

// verify checks token and returns its principal and its expiry (zero for
// a token without "exp"), or a 401 (a 503 when the key set cannot be
// fetched).
func (v *jwtVerifier) verify(ctx context.Context, token string) (computemw.Principal, time.Time, error) {
	if len(token) > maxTokenBytes {
		return computemw.Principal{}, time.Time{}, errInvalidToken(reasonMalformed, errors.New("token too large"))
	}
	now := v.now()
	if v.cache != nil {
		if e, ok := v.cache.get(token, now); ok {
			return e.p, e.exp, nil
		}
	}
	claims := jwt.MapClaims{}
	_, err := v.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		return v.keyFor(ctx, t)
	})
	if err != nil {
		var e *computemw.Error
		if errors.As(err, &e) && e.Code == computemw.CodeUnavailable {
			return computemw.Principal{}, time.Time{}, e
		}
		return computemw.Principal{}, time.Time{}, errInvalidToken(tokenReason(err), err)
	}
	var p computemw.Principal
	if v.mapping != nil {
		p, err = v.mapping(claims)
		if err != nil {
			return computemw.Principal{}, time.Time{}, errInvalidToken(reasonClaimsRefused, err)
		}
	} else {
		p = computemw.Principal{ID: claimString(claims, v.names.ID), Role: claimString(claims, v.names.Role), Plan: claimString(claims, v.names.Plan)}
	}
	if p.ID == "" {
		return computemw.Principal{}, time.Time{}, errInvalidToken(reasonMissingClaim, fmt.Errorf("claim %q (the principal's ID) is missing", v.names.ID))
	}
	var exp, until time.Time
	if e, _ := claims.GetExpirationTime(); e != nil {
		exp, until = e.Time, e.Add(v.leeway)
	}
	if v.cache != nil {
		v.cache.put(token, cachedToken{p: p, exp: exp, until: until}, now)
	}
	return p, exp, nil
}

func claimString(c jwt.MapClaims, name string) string {
	s, _ := c[name].(string)
	return s
}

// keyFor returns the keys that may verify t: those bound to its algorithm
// whose ID is its kid or empty, else the key set's key for its kid.
func (v *jwtVerifier) keyFor(ctx context.Context, t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	kid, _ := t.Header["kid"].(string)
	var (
		first any
		set   jwt.VerificationKeySet
	)
	for _, k := range v.keys {
		if k.Algorithm != alg || (k.ID != "" && k.ID != kid) {
			continue
		}
		switch {
		case first == nil:
			first = k.Key
		case len(set.Keys) == 0:
			set.Keys = append(set.Keys, first, k.Key)
		default:
			set.Keys = append(set.Keys, k.Key)
		}
	}
	if len(set.Keys) > 0 {
		return set, nil
	}
	if first != nil {
		return first, nil
	}
	if v.jwks != nil {
		return v.jwks.key(ctx, t)
	}
	return nil, fmt.Errorf("no key for kid %q and algorithm %s", kid, alg)
}

// keyKind is the key family an algorithm verifies with, or "" for an
// unsupported one.
func keyKind(alg string) string {
	switch alg {
	case "HS256", "HS384", "HS512":
		return "hmac"
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		return "rsa"
	case "ES256", "ES384", "ES512":
		return "ecdsa"
	case "EdDSA":
		return "ed25519"
	}
	return ""
}

// ecCurve is the curve an ES* algorithm signs on.
func ecCurve(alg string) elliptic.Curve {
	switch alg {
	case "ES256":
		return elliptic.P256()
	case "ES384":
		return elliptic.P384()
	case "ES512":
		return elliptic.P521()
	}
	return nil
}

// checkKey reports whether key is a sound key of alg's family.
func checkKey(alg string, key any) error {
	switch keyKind(alg) {
	case "hmac":
		b, ok := key.([]byte)
		if !ok {
			return fmt.Errorf("%s needs a []byte secret, got %T", alg, key)
		}
		if len(b) < 32 {
			return fmt.Errorf("%s secret is %d bytes, want at least 32", alg, len(b))
		}
	case "rsa":
		k, ok := key.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("%s needs an *rsa.PublicKey, got %T", alg, key)
		}
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("%s key is %d bits, want at least 2048", alg, k.N.BitLen())
		}
	case "ecdsa":
		k, ok := key.(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("%s needs an *ecdsa.PublicKey, got %T", alg, key)
		}
		if k.Curve != ecCurve(alg) {
			return fmt.Errorf("%s needs a key on %s", alg, ecCurve(alg).Params().Name)
		}
	case "ed25519":
		k, ok := key.(ed25519.PublicKey)
		if !ok || len(k) != ed25519.PublicKeySize {
			return fmt.Errorf("%s needs an ed25519.PublicKey, got %T", alg, key)
		}
	default:
		return fmt.Errorf("algorithm %q is not supported", alg)
	}
	return nil
}

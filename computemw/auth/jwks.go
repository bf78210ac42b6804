package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/computemw/kit/computemw"
)

// jwksFetchTimeout bounds one fetch of a key set made outside a request:
// the first, which New waits for, and each background refresh.
const jwksFetchTimeout = 10 * time.Second

// maxJWKSBytes bounds the size of a key set.
const maxJWKSBytes = 1 << 20

// jwks is a JSON Web Key Set fetched from a URL by keyfunc and jwkset. The
// set is fetched by New, then refreshed in the background every maxAge, so
// a request whose kid is known never waits on the issuer. An unknown kid
// refetches the set at most once per minRefresh, and waits for it at most
// refreshWait.
type jwks struct {
	kf         keyfunc.Keyfunc
	keys       *boundKeys
	minRefresh time.Duration
	stop       context.CancelFunc
}

func newJWKS(cfg JWTConfig, log *slog.Logger) (*jwks, error) {
	u, err := url.Parse(cfg.JWKSURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("jwt: JWKSURL %q is not an http(s) URL", cfg.JWKSURL)
	}
	minRefresh, maxAge, refreshWait := cfg.JWKSMinRefresh, cfg.JWKSMaxAge, cfg.JWKSRefreshWait
	if minRefresh <= 0 {
		minRefresh = time.Minute
	}
	if maxAge <= 0 {
		maxAge = time.Hour
	}
	if refreshWait <= 0 {
		refreshWait = 2 * time.Second
	}
	j := &jwks{
		keys:       &boundKeys{MemoryJWKSet: jwkset.NewMemoryStorage(), allowed: cfg.Algorithms},
		minRefresh: minRefresh,
	}
	ctx, stop := context.WithCancel(context.Background())
	j.stop = stop
	failed := func(fetchCtx context.Context, err error) {
		if ctx.Err() != nil || errors.Is(err, context.Canceled) {
			return // closed, or the request that fetched went away
		}
		j.keys.failed(err)
		log.WarnContext(fetchCtx, "computemw: auth: fetching the JWKS failed", "url", cfg.JWKSURL, "error", err)
	}
	// This fetches the set, waiting up to jwksFetchTimeout, and starts
	// the refresh goroutine, which ends with ctx.
	fetched, err := jwkset.NewStorageFromHTTP(cfg.JWKSURL, jwkset.HTTPClientStorageOptions{
		Client:                    jwksClient(cfg.HTTPClient),
		Ctx:                       ctx,
		HTTPTimeout:               jwksFetchTimeout,
		NoErrorReturnFirstHTTPReq: true,
		RefreshErrorHandler:       failed,
		RefreshInterval:           maxAge,
		Storage:                   j.keys,
	})
	if err != nil {
		stop()
		return nil, fmt.Errorf("jwt: JWKS: %w", err)
	}
	unknownKid := rate.NewLimiter(rate.Every(minRefresh), 1)
	if held, _ := j.keys.KeyReadAll(ctx); len(held) > 0 {
		unknownKid.Allow() // the fetch just made counts as the first
	}
	storage, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs:          map[string]jwkset.Storage{cfg.JWKSURL: fetched},
		RateLimitWaitMax:  refreshWait,
		RefreshUnknownKID: unknownKid,
	})
	if err == nil {
		j.kf, err = keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: storage})
	}
	if err != nil {
		stop()
		return nil, fmt.Errorf("jwt: JWKS: %w", err)
	}
	return j, nil
}

// key returns the key that verifies t: the set's key for its kid, or the
// set's keys for its algorithm when it has no kid. It fails with a 503
// when the set has no such key and the last fetch failed, and with a plain
// error (a 401 for the token) otherwise.
func (j *jwks) key(ctx context.Context, t *jwt.Token) (any, error) {
	k, err := j.kf.KeyfuncCtx(ctx)(t)
	if set, ok := k.(jwt.VerificationKeySet); ok && err == nil && len(set.Keys) == 0 {
		k, err = nil, fmt.Errorf("no key for algorithm %s", t.Method.Alg())
	}
	if err == nil {
		return k, nil
	}
	kid, _ := t.Header["kid"].(string)
	if cause := j.keys.lastErr(); cause != nil && !j.keys.holds(kid) {
		return nil, &computemw.Error{Code: computemw.CodeUnavailable, Message: "token keys are unavailable", RetryAfter: j.minRefresh, Err: cause}
	}
	return nil, err
}

// close stops the background refresh and cancels a fetch in flight. It
// is idempotent.
func (j *jwks) close() { j.stop() }

// boundKeys is the storage of the fetched set. It keeps only public
// signing keys bound to one algorithm of the allow-list: the JWK's "alg",
// else the one its type and curve imply (RS256 for RSA). Every key it
// holds names its algorithm, so that keyfunc refuses a token whose "alg"
// is another (an HS256 token cannot use an RSA key as its secret). A set
// with no such key is refused and the previous one is kept.
type boundKeys struct {
	*jwkset.MemoryJWKSet
	allowed []string
	err     atomic.Pointer[error] // of the last fetch; nil after a success
}

// KeyReplaceAll implements [jwkset.Storage]; a fetch of the set calls it
// with the set's keys.
func (s *boundKeys) KeyReplaceAll(ctx context.Context, given []jwkset.JWK) error {
	keys := make([]jwkset.JWK, 0, len(given))
	for _, k := range given {
		if b, err := bindKey(k, s.allowed); err == nil {
			keys = append(keys, b)
		}
	}
	if len(keys) == 0 {
		return errors.New("the set holds no usable signing key")
	}
	if err := s.MemoryJWKSet.KeyReplaceAll(ctx, keys); err != nil {
		return err
	}
	s.err.Store(nil)
	return nil
}

func (s *boundKeys) failed(err error) { s.err.Store(&err) }

func (s *boundKeys) lastErr() error {
	if p := s.err.Load(); p != nil {
		return *p
	}
	return nil
}

// holds reports whether the set has a key for kid, without fetching it.
func (s *boundKeys) holds(kid string) bool {
	_, err := s.MemoryJWKSet.KeyRead(context.Background(), kid)
	return err == nil
}

// bindKey returns k's public key with the one algorithm it verifies, or an
// error if that algorithm is not allowed or k is not a sound key for it.
// Symmetric keys are never taken from a key set.
func bindKey(k jwkset.JWK, allowed []string) (jwkset.JWK, error) {
	m := k.Marshal()
	if m.USE != "" && m.USE != jwkset.UseSig {
		return jwkset.JWK{}, fmt.Errorf("key %q is for %q, not signatures", m.KID, m.USE)
	}
	key := k.Key()
	if priv, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		key = priv.Public()
	}
	alg := string(m.ALG)
	switch pub := key.(type) {
	case *rsa.PublicKey:
		if alg == "" {
			alg = "RS256"
		}
	case *ecdsa.PublicKey:
		if alg == "" {
			alg = map[string]string{"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}[pub.Curve.Params().Name]
		}
	case ed25519.PublicKey:
		if alg == "" || alg == "Ed25519" {
			alg = "EdDSA"
		}
	default:
		return jwkset.JWK{}, fmt.Errorf("key %q: type %q is not a public signing key", m.KID, m.KTY)
	}
	if !slices.Contains(allowed, alg) {
		return jwkset.JWK{}, fmt.Errorf("key %q: algorithm %q is not allowed", m.KID, alg)
	}
	if err := checkKey(alg, key); err != nil {
		return jwkset.JWK{}, fmt.Errorf("key %q: %w", m.KID, err)
	}
	return jwkset.NewJWKFromKey(key, jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{ALG: jwkset.ALG(alg), KID: m.KID, USE: m.USE},
	})
}

// jwksClient returns the client that fetches the set: c, or a client of
// its own that keeps no idle connection (the set is fetched once in a
// while, and nothing may outlive Close), with responses cut off past
// maxJWKSBytes.
func jwksClient(c *http.Client) *http.Client {
	if c == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DisableKeepAlives = true
		return &http.Client{Transport: sizeCapped{t}}
	}
	capped := *c
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	capped.Transport = sizeCapped{base}
	return &capped
}

// errJWKSTooLarge ends the reading of a key set larger than maxJWKSBytes.
var errJWKSTooLarge = fmt.Errorf("key set larger than %d bytes", maxJWKSBytes)

// sizeCapped is a transport whose response bodies fail past maxJWKSBytes.
type sizeCapped struct{ base http.RoundTripper }

func (s sizeCapped) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &cappedBody{ReadCloser: resp.Body, left: maxJWKSBytes}
	return resp, nil
}

type cappedBody struct {
	io.ReadCloser
	left int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// At the cap: the body must end here.
		var one [1]byte
		n, err := b.ReadCloser.Read(one[:])
		if n > 0 {
			return 0, errJWKSTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

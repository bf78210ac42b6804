package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/computemw/kit/computemw"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// jwksFetchTimeout bounds one fetch of a key set.
const jwksFetchTimeout = 10 * time.Second

// maxJWKSBytes bounds the size of a key set.
const maxJWKSBytes = 1 << 20

// jwks is a JSON Web Key Set fetched from a URL and cached by kid.
type jwks struct {
	url        string
	client     *http.Client
	minRefresh time.Duration
	maxAge     time.Duration
	allowed    []string

	mu      sync.RWMutex
	keys    map[string]JWTKey
	fetched time.Time // last successful fetch

	refreshing sync.Mutex // held during a fetch; guards the fields below
	attempted  time.Time  // last fetch attempt
	lastErr    error      // its error
}

func newJWKS(cfg JWTConfig) (*jwks, error) {
	if !strings.HasPrefix(cfg.JWKSURL, "https://") && !strings.HasPrefix(cfg.JWKSURL, "http://") {
		return nil, fmt.Errorf("jwt: JWKSURL %q is not an http(s) URL", cfg.JWKSURL)
	}
	j := &jwks{
		url:        cfg.JWKSURL,
		client:     cfg.HTTPClient,
		minRefresh: cfg.JWKSMinRefresh,
		maxAge:     cfg.JWKSMaxAge,
		allowed:    cfg.Algorithms,
	}
	if j.client == nil {
		j.client = &http.Client{Timeout: jwksFetchTimeout}
	}
	if j.minRefresh <= 0 {
		j.minRefresh = time.Minute
	}
	if j.maxAge <= 0 {
		j.maxAge = time.Hour
	}
	return j, nil
}

// key returns the key for kid, fetching the set when kid is unknown or
// the set is older than maxAge. It fails with a 503 when the set cannot be
// fetched and the kid is not cached, and with a plain error (a 401 for the
// token) when the kid is unknown.
func (j *jwks) key(ctx context.Context, kid string) (JWTKey, error) {
	j.mu.RLock()
	k, ok := j.keys[kid]
	stale := time.Since(j.fetched) >= j.maxAge
	j.mu.RUnlock()
	if ok && !stale {
		return k, nil
	}
	if ok {
		// A stale set still serves while one caller refreshes it, and
		// while the issuer is unreachable.
		if j.refreshing.TryLock() {
			_ = j.refreshLocked(ctx)
			j.refreshing.Unlock()
		}
		return j.cached(kid, k), nil
	}
	j.refreshing.Lock()
	err := j.refreshLocked(ctx)
	j.refreshing.Unlock()
	if k, ok := j.lookup(kid); ok {
		return k, nil
	}
	if err != nil {
		return JWTKey{}, &computemw.Error{Code: computemw.CodeUnavailable, Message: "token keys are unavailable", RetryAfter: j.minRefresh, Err: err}
	}
	return JWTKey{}, fmt.Errorf("unknown kid %q", kid)
}

func (j *jwks) lookup(kid string) (JWTKey, bool) {
	j.mu.RLock()
	defer j.mu.RUnlock()
	k, ok := j.keys[kid]
	return k, ok
}

// cached returns the current key for kid, or old if a refresh dropped it
// while the caller held it. (A key dropped from the set is refused from
// the next lookup on.)
func (j *jwks) cached(kid string, old JWTKey) JWTKey {
	if k, ok := j.lookup(kid); ok {
		return k
	}
	return old
}

// refreshLocked fetches the set unless the last attempt was less than
// minRefresh ago, in which case it returns that attempt's error. The
// caller holds j.refreshing, so concurrent misses make one fetch.
func (j *jwks) refreshLocked(ctx context.Context) error {
	if !j.attempted.IsZero() && time.Since(j.attempted) < j.minRefresh {
		return j.lastErr
	}
	j.attempted = time.Now()
	keys, err := j.fetch(ctx)
	j.lastErr = err
	if err != nil {
		return err
	}
	j.mu.Lock()
	j.keys, j.fetched = keys, time.Now()
	j.mu.Unlock()
	return nil
}

// fetch downloads and parses the key set. It is not cut short by the
// request that triggered it going away.
func (j *jwks) fetch(ctx context.Context) (map[string]JWTKey, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), jwksFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := j.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jwks: fetch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxJWKSBytes))
		return nil, fmt.Errorf("jwks: fetch %s: status %d", j.url, resp.StatusCode)
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxJWKSBytes)).Decode(&set); err != nil {
		return nil, fmt.Errorf("jwks: decode: %w", err)
	}
	keys := make(map[string]JWTKey, len(set.Keys))
	for _, raw := range set.Keys {
		k, err := raw.parse()
		if err != nil || !slices.Contains(j.allowed, k.Algorithm) {
			continue // a key this verifier may not use
		}
		keys[k.ID] = k
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("jwks: %s holds no usable signing key", j.url)
	}
	return keys, nil
}

// jwk is one JSON Web Key (RFC 7517) of a public signing key.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	Crv string `json:"crv"`
	N   string `json:"n"`
	E   string `json:"e"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// parse returns the key bound to its algorithm: the JWK's "alg", else
// the usual one for its type and curve.
func (k jwk) parse() (JWTKey, error) {
	if k.Use != "" && k.Use != "sig" {
		return JWTKey{}, fmt.Errorf("key %q is for %q, not signatures", k.Kid, k.Use)
	}
	out := JWTKey{ID: k.Kid, Algorithm: k.Alg}
	switch k.Kty {
	case "RSA":
		n, err1 := b64(k.N)
		e, err2 := b64(k.E)
		if err := errors.Join(err1, err2); err != nil {
			return JWTKey{}, err
		}
		if len(e) == 0 || len(e) > 4 {
			return JWTKey{}, errors.New("bad RSA exponent")
		}
		out.Key = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if out.Algorithm == "" {
			out.Algorithm = "RS256"
		}
	case "EC":
		alg := map[string]string{"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}[k.Crv]
		if alg == "" || (out.Algorithm != "" && out.Algorithm != alg) {
			return JWTKey{}, fmt.Errorf("EC key on %q for %q", k.Crv, k.Alg)
		}
		out.Algorithm = alg
		curve := ecCurve(alg)
		size := (curve.Params().BitSize + 7) / 8
		x, err1 := b64(k.X)
		y, err2 := b64(k.Y)
		if err := errors.Join(err1, err2); err != nil {
			return JWTKey{}, err
		}
		if len(x) != size || len(y) != size {
			return JWTKey{}, errors.New("bad EC coordinates")
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
		if err != nil {
			return JWTKey{}, err
		}
		out.Key = pub
	case "OKP":
		if k.Crv != "Ed25519" || (out.Algorithm != "" && out.Algorithm != "EdDSA" && out.Algorithm != "Ed25519") {
			return JWTKey{}, fmt.Errorf("OKP key on %q for %q", k.Crv, k.Alg)
		}
		x, err := b64(k.X)
		if err != nil {
			return JWTKey{}, err
		}
		out.Algorithm, out.Key = "EdDSA", ed25519.PublicKey(x)
	default:
		return JWTKey{}, fmt.Errorf("key type %q is not supported", k.Kty)
	}
	if err := checkKey(out.Algorithm, out.Key); err != nil {
		return JWTKey{}, err
	}
	return out, nil
}

func b64(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

package auth_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/goleak"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/auth"
	"github.com/computemw/kit/computemw/internal/policytest"
)

// keyServer serves a JWKS on loopback and counts the fetches. While hang
// is set, it answers no fetch until the test ends or the fetch is
// cancelled.
type keyServer struct {
	*httptest.Server
	body   atomic.Pointer[[]byte]
	status atomic.Int32
	hang   atomic.Bool
	hits   atomic.Int64
}

func newKeyServer(t *testing.T, body []byte) *keyServer {
	s := &keyServer{}
	s.set(body)
	s.status.Store(http.StatusOK)
	end := make(chan struct{})
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if s.hang.Load() {
			select {
			case <-end:
			case <-r.Context().Done():
			}
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.WriteHeader(int(s.status.Load()))
		_, _ = w.Write(*s.body.Load())
	}))
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(end) })
	return s
}

// waitHits waits until the server has answered n fetches in all.
func (s *keyServer) waitHits(t *testing.T, n int64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); s.hits.Load() < n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d fetches after 10s, want %d: the key set is not refreshed in the background", s.hits.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func (s *keyServer) set(body []byte) { s.body.Store(&body) }

func jwksAuth(t *testing.T, url string, minRefresh time.Duration) *auth.Authenticator {
	return newAuth(t, auth.Config{JWT: &auth.JWTConfig{
		Algorithms: []string{"RS256", "ES256", "EdDSA"}, JWKSURL: url, JWKSMinRefresh: minRefresh,
		Issuer: "issuer", Audience: "computemw",
	}})
}

func TestJWKSKeyTypes(t *testing.T) {
	srv := newKeyServer(t, jwksBody(
		jwkOf("r1", &testKeys.rsa.PublicKey), jwkOf("e1", &testKeys.ec.PublicKey), jwkOf("d1", testKeys.ed.Public()),
		map[string]string{"kty": "oct", "kid": "s1", "k": "c2VjcmV0"}, // symmetric keys are never taken from a JWKS
	))
	a := jwksAuth(t, srv.URL, time.Hour)
	for _, c := range []struct {
		kid    string
		method jwt.SigningMethod
		key    any
	}{
		{"r1", jwt.SigningMethodRS256, testKeys.rsa},
		{"e1", jwt.SigningMethodES256, testKeys.ec},
		{"d1", jwt.SigningMethodEdDSA, testKeys.ed},
	} {
		if _, err, _ := admit(t, a, computemw.OpExec, bearerHeader(policytest.Sign(t, c.method, c.key, c.kid, policytest.Claims(nil)))); err != nil {
			t.Errorf("%s: %v", c.kid, err)
		}
	}
	// The RSA key of r1 is not an ES256 key, and s1 is not served.
	_, err, _ := admit(t, a, computemw.OpExec, bearerHeader(policytest.Sign(t, jwt.SigningMethodES256, testKeys.ec, "r1", policytest.Claims(nil))))
	policytest.WantStatus(t, err, 401)
	if n := srv.hits.Load(); n != 1 {
		t.Errorf("%d fetches, want 1", n)
	}
}

func TestJWKSRotation(t *testing.T) {
	srv := newKeyServer(t, jwksBody(jwkOf("old", &testKeys.rsa.PublicKey)))
	a := jwksAuth(t, srv.URL, time.Nanosecond)
	if _, err, _ := admit(t, a, computemw.OpExec, bearerHeader(policytest.Sign(t, jwt.SigningMethodRS256, testKeys.rsa, "old", policytest.Claims(nil)))); err != nil {
		t.Fatal(err)
	}
	// The issuer rotates to a new key: the unknown kid triggers a refetch.
	srv.set(jwksBody(jwkOf("new", &testKeys.ec.PublicKey)))
	if _, err, _ := admit(t, a, computemw.OpExec, bearerHeader(policytest.Sign(t, jwt.SigningMethodES256, testKeys.ec, "new", policytest.Claims(nil)))); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Errorf("%d fetches, want 2", n)
	}
	// The old key left the set with the refetch: tokens it signs are
	// refused (one verified before stays good for at most a minute, in the
	// verified-token cache).
	_, err, _ := admit(t, a, computemw.OpExec, bearerHeader(policytest.Sign(t, jwt.SigningMethodRS256, testKeys.rsa, "old", policytest.Claims(jwt.MapClaims{"jti": "2"}))))
	policytest.WantStatus(t, err, 401)
}

func TestJWKSUnknownKidsAreNotALoad(t *testing.T) {
	srv := newKeyServer(t, jwksBody(jwkOf("k1", &testKeys.rsa.PublicKey)))
	a := jwksAuth(t, srv.URL, time.Hour)
	if _, err, _ := admit(t, a, computemw.OpExec, bearerHeader(policytest.Sign(t, jwt.SigningMethodRS256, testKeys.rsa, "k1", policytest.Claims(nil)))); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			tok := policytest.Sign(t, jwt.SigningMethodRS256, testKeys.rsa, "made-up-"+string(rune('a'+i%26)), policytest.Claims(nil))
			_, err, _ := admit(t, a, computemw.OpExec, bearerHeader(tok))
			if computemw.StatusOf(err) != 401 {
				t.Errorf("unknown kid: %v", err)
			}
		})
	}
	wg.Wait()
	if n := srv.hits.Load(); n != 1 {
		t.Errorf("%d fetches for unknown kids within the refresh interval, want 1", n)
	}
}

func TestJWKSUnavailable(t *testing.T) {
	srv := newKeyServer(t, []byte(`oops`))
	srv.status.Store(http.StatusInternalServerError)
	a := jwksAuth(t, srv.URL, time.Nanosecond)
	tok := policytest.Sign(t, jwt.SigningMethodRS256, testKeys.rsa, "k1", policytest.Claims(nil))
	_, err, _ := admit(t, a, computemw.OpExec, bearerHeader(tok))
	policytest.WantStatus(t, err, 503)
	// The issuer comes back.
	srv.status.Store(http.StatusOK)
	srv.set(jwksBody(jwkOf("k1", &testKeys.rsa.PublicKey)))
	if _, err, _ := admit(t, a, computemw.OpExec, bearerHeader(tok)); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

// admitWithin admits a request with tok on a context that expires after
// d, and fails the test if the call is still waiting then.
func admitWithin(t *testing.T, a *auth.Authenticator, d time.Duration, tok string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	h := bearerHeader(tok)
	done := make(chan error, 1)
	go func() {
		ctx, _ := computemw.BeginRequest(ctx, h)
		_, err := a.Admit(ctx, computemw.OpExec, &computemw.Request{Method: http.MethodPost, Header: h})
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		t.Fatalf("the request was still waiting on the identity provider after %v", d)
		return nil
	}
}

func TestJWKSSlowIssuer(t *testing.T) {
	srv := newKeyServer(t, jwksBody(jwkOf("k1", &testKeys.rsa.PublicKey)))
	a := newAuth(t, auth.Config{JWT: &auth.JWTConfig{
		Algorithms: []string{"RS256"}, JWKSURL: srv.URL, Issuer: "issuer", Audience: "computemw",
		JWKSMaxAge: time.Millisecond, JWKSMinRefresh: time.Nanosecond, JWKSRefreshWait: 50 * time.Millisecond,
		CacheSize: -1,
	}})
	if err := admitWithin(t, a, 30*time.Second, policytest.Sign(t, jwt.SigningMethodRS256, testKeys.rsa, "k1", policytest.Claims(nil))); err != nil {
		t.Fatal(err)
	}
	// The issuer hangs: the refresh, due every millisecond, waits on it.
	srv.hang.Store(true)
	start := srv.hits.Load()
	for i := range 20 {
		tok := policytest.Sign(t, jwt.SigningMethodRS256, testKeys.rsa, "k1", policytest.Claims(jwt.MapClaims{"jti": fmt.Sprint(i)}))
		if err := admitWithin(t, a, 30*time.Second, tok); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	srv.waitHits(t, start+1)
	// An unknown kid waits for its refetch no longer than JWKSRefreshWait,
	// then the keys are unavailable.
	err := admitWithin(t, a, 30*time.Second, policytest.Sign(t, jwt.SigningMethodRS256, testKeys.rsa, "k2", policytest.Claims(nil)))
	policytest.WantStatus(t, err, 503)
}

func TestJWKSIssuerDownAtRefresh(t *testing.T) {
	srv := newKeyServer(t, jwksBody(jwkOf("k1", &testKeys.rsa.PublicKey)))
	a := newAuth(t, auth.Config{JWT: &auth.JWTConfig{
		Algorithms: []string{"RS256"}, JWKSURL: srv.URL, Issuer: "issuer", Audience: "computemw",
		JWKSMaxAge: time.Millisecond, CacheSize: -1,
	}})
	known := func(jti string) error {
		return admitWithin(t, a, 30*time.Second, policytest.Sign(t, jwt.SigningMethodRS256, testKeys.rsa, "k1", policytest.Claims(jwt.MapClaims{"jti": jti})))
	}
	for _, down := range []struct {
		name   string
		status int
		body   []byte
	}{
		{"server error", http.StatusServiceUnavailable, []byte("down")},
		{"not a key set", http.StatusOK, []byte("<html>maintenance</html>")},
		{"no usable key", http.StatusOK, jwksBody(map[string]string{"kty": "oct", "kid": "s1", "k": "c2VjcmV0"})},
		{"empty set", http.StatusOK, jwksBody()},
	} {
		t.Run(down.name, func(t *testing.T) {
			srv.status.Store(int32(down.status))
			srv.set(down.body)
			srv.waitHits(t, srv.hits.Load()+2) // a whole refresh failed
			if err := known(down.name); err != nil {
				t.Fatalf("cached key refused while the issuer is down: %v", err)
			}
			// A kid the set does not hold: the keys are unavailable.
			err := admitWithin(t, a, 30*time.Second, policytest.Sign(t, jwt.SigningMethodRS256, testKeys.rsa, "k2", policytest.Claims(nil)))
			policytest.WantStatus(t, err, 503)
		})
	}
	srv.status.Store(http.StatusOK)
	srv.set(jwksBody(jwkOf("k1", &testKeys.rsa.PublicKey)))
	srv.waitHits(t, srv.hits.Load()+2)
	if err := known("back"); err != nil {
		t.Fatal(err)
	}
	err := admitWithin(t, a, 30*time.Second, policytest.Sign(t, jwt.SigningMethodRS256, testKeys.rsa, "k2", policytest.Claims(nil)))
	policytest.WantStatus(t, err, 401)
}

func TestJWKSRotationInBackground(t *testing.T) {
	srv := newKeyServer(t, jwksBody(jwkOf("old", &testKeys.rsa.PublicKey)))
	a := newAuth(t, auth.Config{JWT: &auth.JWTConfig{
		Algorithms: []string{"RS256", "ES256"}, JWKSURL: srv.URL, Issuer: "issuer", Audience: "computemw",
		JWKSMaxAge: time.Millisecond, JWKSMinRefresh: time.Hour,
	}})
	oldTok := func(jti string) string {
		return policytest.Sign(t, jwt.SigningMethodRS256, testKeys.rsa, "old", policytest.Claims(jwt.MapClaims{"jti": jti}))
	}
	if err := admitWithin(t, a, 30*time.Second, oldTok("1")); err != nil {
		t.Fatal(err)
	}
	// The issuer rotates; no unknown kid may refetch (JWKSMinRefresh), so
	// only the background refresh can bring the new key.
	srv.set(jwksBody(jwkOf("new", &testKeys.ec.PublicKey)))
	srv.waitHits(t, srv.hits.Load()+2)
	if err := admitWithin(t, a, 30*time.Second, policytest.Sign(t, jwt.SigningMethodES256, testKeys.ec, "new", policytest.Claims(nil))); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	policytest.WantStatus(t, admitWithin(t, a, 30*time.Second, oldTok("2")), 401)
}

func TestJWKSUnknownKidFlood(t *testing.T) {
	for _, c := range []struct {
		name   string
		status int
		want   int
	}{
		{"issuer up", http.StatusOK, 401},
		{"issuer down", http.StatusInternalServerError, 503},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := newKeyServer(t, jwksBody(jwkOf("k1", &testKeys.rsa.PublicKey)))
			srv.status.Store(int32(c.status))
			a := newAuth(t, auth.Config{JWT: &auth.JWTConfig{
				Algorithms: []string{"RS256"}, JWKSURL: srv.URL, Issuer: "issuer", Audience: "computemw",
			}})
			var wg sync.WaitGroup
			for range 300 {
				wg.Go(func() {
					tok := policytest.Sign(t, jwt.SigningMethodRS256, testKeys.rsa, rand.Text(), policytest.Claims(nil))
					_, err, _ := admit(t, a, computemw.OpExec, bearerHeader(tok))
					if got := computemw.StatusOf(err); got != c.want {
						t.Errorf("random kid: status %d (%v), want %d", got, err, c.want)
					}
				})
			}
			wg.Wait()
			// The fetch of New, and at most one for the unknown kids.
			if n := srv.hits.Load(); n > 2 {
				t.Errorf("%d fetches for 300 random kids, want at most 2", n)
			}
		})
	}
}

func TestJWKSSizeCap(t *testing.T) {
	huge := fmt.Appendf(nil, `{"keys":[%s],"padding":"%s"}`,
		jwksBody(jwkOf("k1", &testKeys.rsa.PublicKey))[len(`{"keys":[`):len(jwksBody(jwkOf("k1", &testKeys.rsa.PublicKey)))-2],
		strings.Repeat("x", 1<<20))
	srv := newKeyServer(t, huge)
	a := jwksAuth(t, srv.URL, time.Nanosecond)
	tok := policytest.Sign(t, jwt.SigningMethodRS256, testKeys.rsa, "k1", policytest.Claims(nil))
	_, err, _ := admit(t, a, computemw.OpExec, bearerHeader(tok))
	policytest.WantStatus(t, err, 503)
	// The same set, without the padding, is fine.
	srv.set(jwksBody(jwkOf("k1", &testKeys.rsa.PublicKey)))
	if _, err, _ := admit(t, a, computemw.OpExec, bearerHeader(tok)); err != nil {
		t.Fatal(err)
	}
}

// TestJWKSKeyBinding: each key of the set verifies one algorithm of the
// allow-list, so an RSA public key never serves as an HMAC secret.
func TestJWKSKeyBinding(t *testing.T) {
	pubDER, err := x509.MarshalPKIXPublicKey(&testKeys.rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	with := func(k map[string]string, extra ...string) map[string]string {
		for i := 0; i < len(extra); i += 2 {
			k[extra[i]] = extra[i+1]
		}
		return k
	}
	srv := newKeyServer(t, jwksBody(
		jwkOf("r1", &testKeys.rsa.PublicKey),                          // no alg: RS256
		with(jwkOf("rh", &testKeys.rsa.PublicKey), "alg", "HS256"),    // an RSA key cannot be HS256
		with(jwkOf("ps", &testKeys.rsa.PublicKey), "alg", "PS256"),    // PS256 is not allowed
		with(jwkOf("e384", &testKeys.ec.PublicKey), "alg", "ES384"),   // a P-256 key cannot be ES384
		with(jwkOf("enc", &testKeys.rsa.PublicKey), "use", "enc"),     // not a signing key
		map[string]string{"kty": "oct", "kid": "s1", "k": "c2VjcmV0"}, // no symmetric key from a set
	))
	a := newAuth(t, auth.Config{JWT: &auth.JWTConfig{
		Algorithms: []string{"RS256", "HS256", "ES256", "ES384"}, JWKSURL: srv.URL, JWKSMinRefresh: time.Hour,
		Issuer: "issuer", Audience: "computemw",
	}})
	if _, err, _ := admit(t, a, computemw.OpExec, bearerHeader(policytest.Sign(t, jwt.SigningMethodRS256, testKeys.rsa, "r1", policytest.Claims(nil)))); err != nil {
		t.Fatalf("RS256 with r1: %v", err)
	}
	if _, err, _ := admit(t, a, computemw.OpExec, bearerHeader(policytest.Sign(t, jwt.SigningMethodRS256, testKeys.rsa, "", policytest.Claims(nil)))); err != nil {
		t.Fatalf("RS256 without kid: %v", err)
	}
	for name, tok := range map[string]string{
		"HS256 with PEM, kid r1": policytest.Sign(t, jwt.SigningMethodHS256, pubPEM, "r1", policytest.Claims(nil)),
		"HS256 with DER, kid r1": policytest.Sign(t, jwt.SigningMethodHS256, pubDER, "r1", policytest.Claims(nil)),
		"HS256 with PEM, kid rh": policytest.Sign(t, jwt.SigningMethodHS256, pubPEM, "rh", policytest.Claims(nil)),
		"HS256 with DER, kid rh": policytest.Sign(t, jwt.SigningMethodHS256, pubDER, "rh", policytest.Claims(nil)),
		"HS256 with PEM, no kid": policytest.Sign(t, jwt.SigningMethodHS256, pubPEM, "", policytest.Claims(nil)),
		"HS256 with secret s1":   policytest.Sign(t, jwt.SigningMethodHS256, []byte("secret"), "s1", policytest.Claims(nil)),
		"RS256 with kid rh":      policytest.Sign(t, jwt.SigningMethodRS256, testKeys.rsa, "rh", policytest.Claims(nil)),
		"RS256 with kid ps":      policytest.Sign(t, jwt.SigningMethodRS256, testKeys.rsa, "ps", policytest.Claims(nil)),
		"RS256 with kid enc":     policytest.Sign(t, jwt.SigningMethodRS256, testKeys.rsa, "enc", policytest.Claims(nil)),
		"ES256 with kid e384":    policytest.Sign(t, jwt.SigningMethodES256, testKeys.ec, "e384", policytest.Claims(nil)),
		"ES256 with RSA kid r1":  policytest.Sign(t, jwt.SigningMethodES256, testKeys.ec, "r1", policytest.Claims(nil)),
	} {
		_, err, _ := admit(t, a, computemw.OpExec, bearerHeader(tok))
		if computemw.StatusOf(err) != 401 {
			t.Errorf("%s: status %d (%v), want 401", name, computemw.StatusOf(err), err)
		}
	}
	if n := srv.hits.Load(); n != 1 {
		t.Errorf("%d fetches, want 1", n)
	}
}

// TestJWKSClose: Close ends the background refresh, a fetch in flight
// included, and the keys held keep verifying tokens.
func TestJWKSClose(t *testing.T) {
	srv := newKeyServer(t, jwksBody(jwkOf("k1", &testKeys.rsa.PublicKey)))
	before := goleak.IgnoreCurrent()
	a, err := auth.New(auth.Config{JWT: &auth.JWTConfig{
		Algorithms: []string{"RS256"}, JWKSURL: srv.URL, JWKSMaxAge: time.Millisecond,
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv.hang.Store(true)
	srv.waitHits(t, 2) // a refresh is in flight, waiting on the issuer
	for range 2 {
		if err := a.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	goleak.VerifyNone(t, before)
	hits := srv.hits.Load()
	if _, err, _ := admit(t, a, computemw.OpExec, bearerHeader(policytest.Sign(t, jwt.SigningMethodRS256, testKeys.rsa, "k1", policytest.Claims(nil)))); err != nil {
		t.Errorf("after Close: %v", err)
	}
	if n := srv.hits.Load(); n != hits {
		t.Errorf("%d fetches after Close", n-hits)
	}
	if err := newAuth(t, auth.Config{APIKeys: map[string]computemw.Principal{auth.HashAPIKey("k"): {ID: "x"}}}).Close(context.Background()); err != nil {
		t.Errorf("Close without a key set: %v", err)
	}
}

package auth_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/auth"
)

// keyServer serves a JWKS on loopback and counts the fetches.
type keyServer struct {
	*httptest.Server
	body   atomic.Pointer[[]byte]
	status atomic.Int32
	hits   atomic.Int64
}

func newKeyServer(t *testing.T, body []byte) *keyServer {
	s := &keyServer{}
	s.set(body)
	s.status.Store(http.StatusOK)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.WriteHeader(int(s.status.Load()))
		_, _ = w.Write(*s.body.Load())
	}))
	t.Cleanup(s.Close)
	return s
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
		if _, err, _ := admit(t, a, computemw.OpExec, bearerHeader(sign(t, c.method, c.key, c.kid, claims(nil)))); err != nil {
			t.Errorf("%s: %v", c.kid, err)
		}
	}
	// The RSA key of r1 is not an ES256 key, and s1 is not served.
	_, err, _ := admit(t, a, computemw.OpExec, bearerHeader(sign(t, jwt.SigningMethodES256, testKeys.ec, "r1", claims(nil))))
	wantStatus(t, err, 401)
	if n := srv.hits.Load(); n != 1 {
		t.Errorf("%d fetches, want 1", n)
	}
}

func TestJWKSRotation(t *testing.T) {
	srv := newKeyServer(t, jwksBody(jwkOf("old", &testKeys.rsa.PublicKey)))
	a := jwksAuth(t, srv.URL, time.Nanosecond)
	if _, err, _ := admit(t, a, computemw.OpExec, bearerHeader(sign(t, jwt.SigningMethodRS256, testKeys.rsa, "old", claims(nil)))); err != nil {
		t.Fatal(err)
	}
	// The issuer rotates to a new key: the unknown kid triggers a refetch.
	srv.set(jwksBody(jwkOf("new", &testKeys.ec.PublicKey)))
	if _, err, _ := admit(t, a, computemw.OpExec, bearerHeader(sign(t, jwt.SigningMethodES256, testKeys.ec, "new", claims(nil)))); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Errorf("%d fetches, want 2", n)
	}
	// The old key left the set with the refetch: tokens it signs are
	// refused (one verified before stays good for at most a minute, in the
	// verified-token cache).
	_, err, _ := admit(t, a, computemw.OpExec, bearerHeader(sign(t, jwt.SigningMethodRS256, testKeys.rsa, "old", claims(jwt.MapClaims{"jti": "2"}))))
	wantStatus(t, err, 401)
}

func TestJWKSUnknownKidsAreNotALoad(t *testing.T) {
	srv := newKeyServer(t, jwksBody(jwkOf("k1", &testKeys.rsa.PublicKey)))
	a := jwksAuth(t, srv.URL, time.Hour)
	if _, err, _ := admit(t, a, computemw.OpExec, bearerHeader(sign(t, jwt.SigningMethodRS256, testKeys.rsa, "k1", claims(nil)))); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			tok := sign(t, jwt.SigningMethodRS256, testKeys.rsa, "made-up-"+string(rune('a'+i%26)), claims(nil))
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
	tok := sign(t, jwt.SigningMethodRS256, testKeys.rsa, "k1", claims(nil))
	_, err, _ := admit(t, a, computemw.OpExec, bearerHeader(tok))
	wantStatus(t, err, 503)
	// The issuer comes back.
	srv.status.Store(http.StatusOK)
	srv.set(jwksBody(jwkOf("k1", &testKeys.rsa.PublicKey)))
	if _, err, _ := admit(t, a, computemw.OpExec, bearerHeader(tok)); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/auth"
	"github.com/computemw/kit/computemw/internal/policytest"
)

// testKeys are generated once: RSA generation is slow under -race.
var testKeys = struct {
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
	ed  ed25519.PrivateKey
}{}

func init() {
	var err error
	if testKeys.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if testKeys.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	if _, testKeys.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		panic(err)
	}
}

// admit runs the authenticator on a request with header h and returns the
// principal, the error and the response headers.
func admit(t testing.TB, a *auth.Authenticator, op computemw.Op, h http.Header) (computemw.Principal, error, http.Header) {
	t.Helper()
	ctx, _ := computemw.BeginRequest(context.Background(), h)
	ctx, err := a.Admit(ctx, op, &computemw.Request{Method: http.MethodPost, Header: h})
	p, _ := computemw.PrincipalFrom(ctx)
	return p, err, computemw.ResponseHeader(ctx)
}

func bearerHeader(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

func newAuth(t testing.TB, cfg auth.Config) *auth.Authenticator {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a, err := auth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := a.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return a
}

func TestAuthAlgorithms(t *testing.T) {
	cases := []struct {
		name    string
		method  jwt.SigningMethod
		signKey any
		key     auth.JWTKey
	}{
		{"HS256", jwt.SigningMethodHS256, policytest.HMACSecret, auth.JWTKey{Algorithm: "HS256", Key: policytest.HMACSecret}},
		{"RS256", jwt.SigningMethodRS256, testKeys.rsa, auth.JWTKey{Algorithm: "RS256", Key: &testKeys.rsa.PublicKey}},
		{"ES256", jwt.SigningMethodES256, testKeys.ec, auth.JWTKey{Algorithm: "ES256", Key: &testKeys.ec.PublicKey}},
		{"EdDSA", jwt.SigningMethodEdDSA, testKeys.ed, auth.JWTKey{Algorithm: "EdDSA", Key: testKeys.ed.Public()}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newAuth(t, auth.Config{JWT: &auth.JWTConfig{
				Algorithms: []string{c.name}, Keys: []auth.JWTKey{c.key}, Issuer: "issuer", Audience: "computemw",
			}})
			p, err, _ := admit(t, a, computemw.OpExec, bearerHeader(policytest.Sign(t, c.method, c.signKey, "", policytest.Claims(nil))))
			if err != nil {
				t.Fatal(err)
			}
			if p != (computemw.Principal{ID: "alice", Role: "user", Plan: "pro"}) {
				t.Errorf("principal %+v", p)
			}
		})
	}
}

func TestAuthTokenAttacks(t *testing.T) {
	pubDER, err := x509.MarshalPKIXPublicKey(&testKeys.rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	// The verifier accepts RS256 with the RSA key and HS256 with its own
	// secret: the setting in which key confusion is a real threat.
	a := newAuth(t, auth.Config{JWT: &auth.JWTConfig{
		Algorithms: []string{"RS256", "HS256"},
		Keys: []auth.JWTKey{
			{ID: "rsa", Algorithm: "RS256", Key: &testKeys.rsa.PublicKey},
			{ID: "hmac", Algorithm: "HS256", Key: policytest.HMACSecret},
		},
		Issuer: "issuer", Audience: "computemw", Leeway: time.Second,
	}})
	good := policytest.Sign(t, jwt.SigningMethodRS256, testKeys.rsa, "rsa", policytest.Claims(nil))
	if _, err, _ := admit(t, a, computemw.OpExec, bearerHeader(good)); err != nil {
		t.Fatalf("good token refused: %v", err)
	}
	parts := strings.Split(good, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := strings.Replace(string(payload), `"role":"user"`, `"role":"admin"`, 1)
	if tampered == string(payload) {
		t.Fatal("payload not tampered")
	}
	noneHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT","kid":"rsa"}`))
	hour := time.Hour
	cases := map[string]string{
		"alg none":               noneHeader + "." + parts[1] + ".",
		"alg none signed":        noneHeader + "." + parts[1] + "." + parts[2],
		"HS256 with RSA PEM":     policytest.Sign(t, jwt.SigningMethodHS256, pubPEM, "rsa", policytest.Claims(nil)),
		"HS256 with RSA DER":     policytest.Sign(t, jwt.SigningMethodHS256, pubDER, "rsa", policytest.Claims(nil)),
		"HS256 with PEM, no kid": policytest.Sign(t, jwt.SigningMethodHS256, pubPEM, "", policytest.Claims(nil)),
		"expired":                policytest.Sign(t, jwt.SigningMethodRS256, testKeys.rsa, "rsa", policytest.Claims(jwt.MapClaims{"exp": time.Now().Add(-hour).Unix()})),
		"not yet valid":          policytest.Sign(t, jwt.SigningMethodRS256, testKeys.rsa, "rsa", policytest.Claims(jwt.MapClaims{"nbf": time.Now().Add(hour).Unix()})),
		"issued in the future":   policytest.Sign(t, jwt.SigningMethodRS256, testKeys.rsa, "rsa", policytest.Claims(jwt.MapClaims{"iat": time.Now().Add(hour).Unix()})),
		"no expiry":              policytest.Sign(t, jwt.SigningMethodRS256, testKeys.rsa, "rsa", policytest.Claims(jwt.MapClaims{"exp": nil})),
		"wrong issuer":           policytest.Sign(t, jwt.SigningMethodRS256, testKeys.rsa, "rsa", policytest.Claims(jwt.MapClaims{"iss": "evil"})),
		"no issuer":              policytest.Sign(t, jwt.SigningMethodRS256, testKeys.rsa, "rsa", policytest.Claims(jwt.MapClaims{"iss": nil})),
		"wrong audience":         policytest.Sign(t, jwt.SigningMethodRS256, testKeys.rsa, "rsa", policytest.Claims(jwt.MapClaims{"aud": "other"})),
		"no subject":             policytest.Sign(t, jwt.SigningMethodRS256, testKeys.rsa, "rsa", policytest.Claims(jwt.MapClaims{"sub": nil})),
		"tampered payload":       parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(tampered)) + "." + parts[2],
		"unknown kid":            policytest.Sign(t, jwt.SigningMethodRS256, testKeys.rsa, "nope", policytest.Claims(nil)),
		"other RSA key":          policytest.Sign(t, jwt.SigningMethodRS256, mustRSA(t), "rsa", policytest.Claims(nil)),
		"ES256 not allowed":      policytest.Sign(t, jwt.SigningMethodES256, testKeys.ec, "rsa", policytest.Claims(nil)),
		"truncated":              parts[0] + "." + parts[1],
		"huge":                   strings.Repeat("a", 10000),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			p, err, h := admit(t, a, computemw.OpExec, bearerHeader(tok))
			policytest.WantStatus(t, err, 401)
			if p.ID != "" {
				t.Errorf("principal %+v set on failure", p)
			}
			if got := h.Get("WWW-Authenticate"); got != `Bearer realm="computemw", error="invalid_token"` {
				t.Errorf("WWW-Authenticate %q", got)
			}
		})
	}
}

var otherRSA *rsa.PrivateKey

func mustRSA(t testing.TB) *rsa.PrivateKey {
	if otherRSA == nil {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		otherRSA = k
	}
	return otherRSA
}

func TestAuthCredentials(t *testing.T) {
	const key = "cmw_live_0123456789abcdef0123456789abcdef"
	a := newAuth(t, auth.Config{
		JWT: &auth.JWTConfig{Algorithms: []string{"HS256"}, Keys: []auth.JWTKey{{Algorithm: "HS256", Key: policytest.HMACSecret}}},
		APIKeys: map[string]computemw.Principal{
			auth.HashAPIKey(key): {ID: "billing-service", Role: "admin", Plan: "enterprise"},
		},
	})
	tok := policytest.Sign(t, jwt.SigningMethodHS256, policytest.HMACSecret, "", policytest.Claims(nil))
	cases := []struct {
		name      string
		op        computemw.Op
		header    http.Header
		status    int
		id        string
		challenge string
	}{
		{"no credentials", computemw.OpExec, http.Header{}, 401, "", `Bearer realm="computemw"`},
		{"health is public", computemw.OpHealth, http.Header{}, 200, "", ""},
		{"bearer", computemw.OpExec, bearerHeader(tok), 200, "alice", ""},
		{"bearer lower case", computemw.OpExec, http.Header{"Authorization": {"bearer " + tok}}, 200, "alice", ""},
		{"empty bearer", computemw.OpExec, http.Header{"Authorization": {"Bearer "}}, 401, "", `Bearer realm="computemw", error="invalid_request"`},
		{"basic", computemw.OpExec, http.Header{"Authorization": {"Basic YTpi"}}, 401, "", `Bearer realm="computemw", error="invalid_request"`},
		{"X-API-Key", computemw.OpExec, http.Header{"X-Api-Key": {key}}, 200, "billing-service", ""},
		{"Authorization ApiKey", computemw.OpExec, http.Header{"Authorization": {"ApiKey " + key}}, 200, "billing-service", ""},
		{"wrong API key", computemw.OpExec, http.Header{"X-Api-Key": {key + "x"}}, 401, "", `Bearer realm="computemw", error="invalid_token"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err, h := admit(t, a, c.op, c.header)
			policytest.WantStatus(t, err, c.status)
			if p.ID != c.id {
				t.Errorf("principal %q, want %q", p.ID, c.id)
			}
			if got := h.Get("WWW-Authenticate"); got != c.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, c.challenge)
			}
		})
	}

	t.Run("principal set by the app", func(t *testing.T) {
		ctx := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "app-user"})
		ctx, err := a.Admit(ctx, computemw.OpExec, &computemw.Request{Header: http.Header{}})
		if p, _ := computemw.PrincipalFrom(ctx); err != nil || p.ID != "app-user" {
			t.Errorf("got %+v, %v", p, err)
		}
	})
}

func TestAuthClaimMapping(t *testing.T) {
	t.Run("names", func(t *testing.T) {
		a := newAuth(t, auth.Config{JWT: &auth.JWTConfig{
			Algorithms: []string{"HS256"}, Keys: []auth.JWTKey{{Algorithm: "HS256", Key: policytest.HMACSecret}},
			Claims: auth.ClaimNames{ID: "uid", Role: "https://example.com/role", Plan: "tier"},
		}})
		tok := policytest.Sign(t, jwt.SigningMethodHS256, policytest.HMACSecret, "", policytest.Claims(jwt.MapClaims{"uid": "u-7", "https://example.com/role": "admin", "tier": "enterprise"}))
		p, err, _ := admit(t, a, computemw.OpExec, bearerHeader(tok))
		if err != nil || p != (computemw.Principal{ID: "u-7", Role: "admin", Plan: "enterprise"}) {
			t.Errorf("got %+v, %v", p, err)
		}
	})
	t.Run("func", func(t *testing.T) {
		a := newAuth(t, auth.Config{JWT: &auth.JWTConfig{
			Algorithms: []string{"HS256"}, Keys: []auth.JWTKey{{Algorithm: "HS256", Key: policytest.HMACSecret}},
			Principal: func(c jwt.MapClaims) (computemw.Principal, error) {
				roles, _ := c["roles"].([]any)
				if len(roles) == 0 {
					return computemw.Principal{}, errors.New("no roles")
				}
				return computemw.Principal{ID: c["sub"].(string), Role: roles[0].(string), Plan: "pro"}, nil
			},
		}})
		p, err, _ := admit(t, a, computemw.OpExec, bearerHeader(policytest.Sign(t, jwt.SigningMethodHS256, policytest.HMACSecret, "", policytest.Claims(jwt.MapClaims{"roles": []string{"developer"}}))))
		if err != nil || p != (computemw.Principal{ID: "alice", Role: "developer", Plan: "pro"}) {
			t.Errorf("got %+v, %v", p, err)
		}
		_, err, _ = admit(t, a, computemw.OpExec, bearerHeader(policytest.Sign(t, jwt.SigningMethodHS256, policytest.HMACSecret, "", policytest.Claims(nil))))
		policytest.WantStatus(t, err, 401)
	})
}

func TestAuthConfigErrors(t *testing.T) {
	rsaKey := &testKeys.rsa.PublicKey
	cases := map[string]auth.Config{
		"no scheme":          {},
		"no algorithms":      {JWT: &auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", Key: policytest.HMACSecret}}}},
		"alg none":           {JWT: &auth.JWTConfig{Algorithms: []string{"none"}, Keys: []auth.JWTKey{{Algorithm: "HS256", Key: policytest.HMACSecret}}}},
		"no keys":            {JWT: &auth.JWTConfig{Algorithms: []string{"HS256"}}},
		"key alg not listed": {JWT: &auth.JWTConfig{Algorithms: []string{"HS256"}, Keys: []auth.JWTKey{{Algorithm: "RS256", Key: rsaKey}}}},
		"RSA key as secret":  {JWT: &auth.JWTConfig{Algorithms: []string{"HS256"}, Keys: []auth.JWTKey{{Algorithm: "HS256", Key: rsaKey}}}},
		"short secret":       {JWT: &auth.JWTConfig{Algorithms: []string{"HS256"}, Keys: []auth.JWTKey{{Algorithm: "HS256", Key: []byte("short")}}}},
		"EC key for RS256":   {JWT: &auth.JWTConfig{Algorithms: []string{"RS256"}, Keys: []auth.JWTKey{{Algorithm: "RS256", Key: &testKeys.ec.PublicKey}}}},
		"bad JWKS URL":       {JWT: &auth.JWTConfig{Algorithms: []string{"RS256"}, JWKSURL: "file:///etc/keys"}},
		"bad API key hash":   {APIKeys: map[string]computemw.Principal{"plaintext-key": {ID: "x"}}},
		"API key without ID": {APIKeys: map[string]computemw.Principal{auth.HashAPIKey("k"): {}}},
		"bad realm":          {APIKeys: map[string]computemw.Principal{auth.HashAPIKey("k"): {ID: "x"}}, Realm: `a"b`},
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := auth.New(cfg); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestAuthPublicOps(t *testing.T) {
	a := newAuth(t, auth.Config{
		APIKeys:   map[string]computemw.Principal{auth.HashAPIKey("k"): {ID: "x"}},
		PublicOps: []computemw.Op{},
	})
	_, err, _ := admit(t, a, computemw.OpHealth, http.Header{})
	policytest.WantStatus(t, err, 401)
}

// jwkOf is the public JWK of key.
func jwkOf(kid string, key any) map[string]string {
	b := base64.RawURLEncoding.EncodeToString
	switch k := key.(type) {
	case *rsa.PublicKey:
		return map[string]string{"kty": "RSA", "kid": kid, "use": "sig", "n": b(k.N.Bytes()), "e": b([]byte{1, 0, 1})}
	case *ecdsa.PublicKey:
		raw, _ := k.Bytes()
		return map[string]string{"kty": "EC", "kid": kid, "crv": "P-256", "x": b(raw[1:33]), "y": b(raw[33:])}
	case ed25519.PublicKey:
		return map[string]string{"kty": "OKP", "kid": kid, "crv": "Ed25519", "alg": "EdDSA", "x": b(k)}
	}
	panic("unknown key type")
}

func jwksBody(keys ...map[string]string) []byte {
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

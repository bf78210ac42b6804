package auth_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/auth"
	"github.com/computemw/kit/computemw/internal/policytest"
)

// A refused credential says which check failed in the error's details
// ({"reason": ...}), never with a secret: an expired token, a forged one,
// one signed by a key the server does not know and one for another
// audience each have their reason; so have a wrong API key, and an API
// key where the server takes none.
func TestAuthRefusalReasons(t *testing.T) {
	a := newAuth(t, auth.Config{JWT: &auth.JWTConfig{
		Algorithms: []string{"RS256"},
		Keys:       []auth.JWTKey{{ID: "rsa", Algorithm: "RS256", Key: &testKeys.rsa.PublicKey}},
		Issuer:     "issuer", Audience: "computemw",
	}})
	sign := func(kid string, key any, claims jwt.MapClaims) http.Header {
		return bearerHeader(policytest.Sign(t, jwt.SigningMethodRS256, key, kid, policytest.Claims(claims)))
	}
	cases := []struct {
		name   string
		a      *auth.Authenticator
		header http.Header
		msg    string
		reason string
	}{
		{"expired", a, sign("rsa", testKeys.rsa, jwt.MapClaims{"exp": time.Now().Add(-time.Hour).Unix()}), "invalid token", "expired"},
		{"bad signature", a, sign("rsa", mustRSA(t), nil), "invalid token", "bad_signature"},
		{"unknown key", a, sign("other", testKeys.rsa, nil), "invalid token", "unknown_key"},
		{"wrong audience", a, sign("rsa", testKeys.rsa, jwt.MapClaims{"aud": "other"}), "invalid token", "wrong_audience"},
		{"wrong issuer", a, sign("rsa", testKeys.rsa, jwt.MapClaims{"iss": "evil"}), "invalid token", "wrong_issuer"},
		{"malformed", a, bearerHeader("not.a.token"), "invalid token", "malformed"},
		{"API key where none is configured", a, http.Header{"X-Api-Key": {"wrong"}}, "invalid API key", "api_keys_not_configured"},
		{"wrong API key", newAuth(t, auth.Config{APIKeys: map[string]computemw.Principal{auth.HashAPIKey("right-key-0123456789abcdef"): {ID: "svc"}}}),
			http.Header{"X-Api-Key": {"wrong"}}, "invalid API key", "unknown_api_key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err, _ := admit(t, c.a, computemw.OpExec, c.header)
			e := computemw.AsError(err)
			d, _ := e.Details.(map[string]string)
			if e.Code != computemw.CodeUnauthorized || e.Message != c.msg || d["reason"] != c.reason {
				t.Errorf("got %s %q details %v, want UNAUTHORIZED %q with reason %q", e.Code, e.Message, e.Details, c.msg, c.reason)
			}
		})
	}
}

// Package policytest holds the helpers that the tests of the core and of
// the policy packages share: a kit closed at cleanup, a POST on a route,
// signed test tokens.
package policytest

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/httpapi"
)

// HMACSecret signs the HS256 test tokens.
var HMACSecret = []byte("auth-test-secret-of-at-least-32-bytes-long")

// ErrStoreDown is what a store that cannot be reached answers.
var ErrStoreDown = errors.New("dial tcp 127.0.0.1:1: connection refused")

// NewKit builds a kit from cfg (with a discarding logger) that is closed
// at cleanup.
func NewKit(t testing.TB, cfg computemw.Config) *computemw.Kit {
	t.Helper()
	cfg.Logger = DiscardLogger()
	kit, err := computemw.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := kit.Close(ctx); err != nil {
			t.Errorf("kit.Close: %v", err)
		}
	})
	return kit
}

// Post serves a POST on the kit's route at path.
func Post(ctx context.Context, kit *computemw.Kit, path, body string, h http.Header) *httpapi.Response {
	return computemwtest.ServePath(ctx, kit, http.MethodPost, path, body, h)
}

// DiscardLogger returns a logger that writes nothing.
func DiscardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// WantStatus fails the test unless err renders with status.
func WantStatus(t testing.TB, err error, status int) {
	t.Helper()
	if got := computemw.StatusOf(err); got != status {
		t.Fatalf("status %d (%v), want %d", got, err, status)
	}
}

// Claims returns valid claims for alice (role user, plan pro, issuer
// "issuer", audience "computemw"), with extra merged in (a nil value
// deletes a claim).
func Claims(extra jwt.MapClaims) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{"sub": "alice", "role": "user", "plan": "pro", "iss": "issuer", "aud": "computemw",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// Sign signs c with m and key, with kid in the header when not empty.
func Sign(t testing.TB, m jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

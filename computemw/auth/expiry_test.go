package auth_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/auth"
	"github.com/computemw/kit/computemw/internal/policytest"
)

// fakeClock is a settable clock for Config.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestAuthConnectionOutlivesNoToken admits a WebSocket's messages with
// the context of its upgrade, as the kit does: they are admitted while the
// token is valid, leeway included, and refused with 401 once it expired.
func TestAuthConnectionOutlivesNoToken(t *testing.T) {
	const key = "cmw_live_0123456789abcdef0123456789abcdef"
	clock := &fakeClock{now: time.Now()}
	a := newAuth(t, auth.Config{
		JWT: &auth.JWTConfig{
			Algorithms: []string{"HS256"}, Keys: []auth.JWTKey{{Algorithm: "HS256", Key: policytest.HMACSecret}},
			Leeway: 30 * time.Second,
		},
		APIKeys: map[string]computemw.Principal{auth.HashAPIKey(key): {ID: "billing-service"}},
		Now:     clock.Now,
	})
	tok := policytest.Sign(t, jwt.SigningMethodHS256, policytest.HMACSecret, "", policytest.Claims(jwt.MapClaims{
		"iat": clock.Now().Unix(), "exp": clock.Now().Add(time.Minute).Unix(),
	}))

	// upgrade admits the connection; message admits one of its messages.
	upgrade := func(h http.Header) context.Context {
		t.Helper()
		ctx, _ := computemw.BeginRequest(context.Background(), h)
		ctx, err := a.Admit(ctx, computemw.OpWebSocket, &computemw.Request{Method: http.MethodGet, Header: h})
		if err != nil {
			t.Fatalf("upgrade: %v", err)
		}
		return ctx
	}
	message := func(conn context.Context, h http.Header) (error, http.Header) {
		ctx, _ := computemw.BeginRequest(conn, h)
		_, err := a.Admit(ctx, computemw.OpExecute, &computemw.Request{Header: h})
		return err, computemw.ResponseHeader(ctx)
	}

	h := bearerHeader(tok)
	conn := upgrade(h)
	clock.Advance(time.Minute + 29*time.Second) // past exp, within the leeway
	if err, _ := message(conn, h); err != nil {
		t.Fatalf("message within the leeway: %v", err)
	}
	clock.Advance(time.Second) // exp + leeway
	err, rh := message(conn, h)
	policytest.WantStatus(t, err, 401)
	if msg := computemw.AsError(err).Message; msg != "token expired" {
		t.Errorf("message %q", msg)
	}
	if got := rh.Get("WWW-Authenticate"); got != `Bearer realm="computemw", error="invalid_token"` {
		t.Errorf("WWW-Authenticate %q", got)
	}

	t.Run("principal set by the app", func(t *testing.T) {
		ctx := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "app-user"})
		clock.Advance(24 * time.Hour)
		if _, err := a.Admit(ctx, computemw.OpExecute, &computemw.Request{Header: http.Header{}}); err != nil {
			t.Errorf("app principal refused: %v", err)
		}
	})
	t.Run("API key", func(t *testing.T) {
		h := http.Header{"X-Api-Key": {key}}
		conn := upgrade(h)
		clock.Advance(24 * time.Hour)
		if err, _ := message(conn, h); err != nil {
			t.Errorf("API key connection refused: %v", err)
		}
	})
	t.Run("principal replaced by the app", func(t *testing.T) {
		tok := policytest.Sign(t, jwt.SigningMethodHS256, policytest.HMACSecret, "", policytest.Claims(jwt.MapClaims{
			"iat": clock.Now().Unix(), "exp": clock.Now().Add(time.Minute).Unix(),
		}))
		conn := computemw.WithPrincipal(upgrade(bearerHeader(tok)), computemw.Principal{ID: "app-user"})
		clock.Advance(time.Hour)
		if err, _ := message(conn, bearerHeader(tok)); err != nil {
			t.Errorf("app principal refused: %v", err)
		}
	})
	t.Run("another authenticator", func(t *testing.T) {
		other := newAuth(t, auth.Config{
			JWT: &auth.JWTConfig{Algorithms: []string{"HS256"}, Keys: []auth.JWTKey{{Algorithm: "HS256", Key: policytest.HMACSecret}}},
			Now: clock.Now,
		})
		// conn's token expired above; only the authenticator that
		// verified it checks its expiry.
		if _, err := other.Admit(conn, computemw.OpExecute, &computemw.Request{Header: h}); err != nil {
			t.Errorf("refused by an authenticator that did not verify the token: %v", err)
		}
	})
}

package jobs

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

type countObserver struct {
	nopObserver
	outcomes map[string]int
}

func (c *countObserver) WebhookFinished(outcome string, _ int) { c.outcomes[outcome]++ }

// TestWebhookDialCheck: the address is checked again when the callback
// connects, so that a host that resolved to an allowed address at submit
// and to a denied one later (DNS rebinding) is refused then.
func TestWebhookDialCheck(t *testing.T) {
	hit := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		hit++
	}))
	t.Cleanup(srv.Close)
	obs := &countObserver{outcomes: map[string]int{}}
	j := &Job{ID: "x", State: StateCompleted}

	denied := newWebhooks(WebhookConfig{Secret: []byte("s"), Backoff: time.Millisecond}, obs, slog.New(slog.DiscardHandler))
	t.Cleanup(denied.close)
	denied.deliver(context.Background(), srv.URL, j)
	if hit != 0 || obs.outcomes["refused"] != 1 {
		t.Fatalf("a loopback callback was not refused at dial time: %d requests, %v", hit, obs.outcomes)
	}

	allowed := newWebhooks(WebhookConfig{Secret: []byte("s"), AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
		obs, slog.New(slog.DiscardHandler))
	t.Cleanup(allowed.close)
	allowed.deliver(context.Background(), srv.URL, j)
	if hit != 1 || obs.outcomes["delivered"] != 1 {
		t.Fatalf("an allowed callback: %d requests, %v", hit, obs.outcomes)
	}
}

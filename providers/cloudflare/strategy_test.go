package cloudflare_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/fakeprovider"
	"github.com/computemw/kit/providers/cloudflare/cloudflarefake"
)

// With a Fallback strategy, a creation the bridge cannot serve (no
// capacity for another container) goes to the next provider, and leaves
// nothing on the bridge; once the bridge has room again, it serves.
func TestFallbackStrategy(t *testing.T) {
	p, f := newProvider(t, nil)
	other := fakeprovider.New("other")
	kit, err := computemw.New(computemw.Config{
		Providers: []computemw.Provider{p, other},
		Strategy:  computemw.Fallback("cloudflare", "other"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := kit.Close(ctx); err != nil {
			t.Errorf("kit.Close: %v", err)
		}
	})
	ctx := testCtx(t)
	f.Inject(cloudflarefake.Fault{Op: "isSandboxRunning", Status: 503, Times: 4})
	r := computemwtest.ServePath(ctx, kit, "POST", "/exec", `{"command":"echo hi"}`, nil)
	if got := providerOf(t, r.Body); r.Status != 200 || got != "other" {
		t.Fatalf("exec without room on the bridge: %d %s", r.Status, r.Body)
	}
	if live := f.Live(); len(live) != 0 {
		t.Errorf("the failed create left %v on the bridge", live)
	}
	r = computemwtest.ServePath(ctx, kit, "POST", "/exec", `{"command":"echo hi","provider":"cloudflare"}`, nil)
	if got := providerOf(t, r.Body); r.Status != 200 || got != "cloudflare" {
		t.Errorf("exec on the bridge named: %d %s", r.Status, r.Body)
	}
}

func providerOf(t *testing.T, body []byte) string {
	t.Helper()
	var out struct {
		Provider string `json:"provider"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	return out.Provider
}

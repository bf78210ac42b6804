package computemw_test

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
)

// newPolicyKit builds a kit from cfg (with a discarding logger) that is
// closed at cleanup.
func newPolicyKit(t testing.TB, cfg computemw.Config) *computemw.Kit {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
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

// post serves a POST on the kit's route at path.
func post(ctx context.Context, kit *computemw.Kit, path, body string, h http.Header) *computemw.Response {
	return computemwtest.ServePath(ctx, kit, http.MethodPost, path, body, h)
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

package vendorhttp_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/computemw/kit/providers/internal/vendorhttp"
)

// A wait ends with its context, however long it was to last, and a
// zero wait ends at once.
func TestWait(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := vendorhttp.Wait(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled wait: %v, want context.Canceled", err)
	}
	if err := vendorhttp.Wait(t.Context(), 0); err != nil {
		t.Errorf("a zero wait: %v", err)
	}
}

package vendorhttp

import (
	"context"
	"time"
)

// Wait waits d before a retry, or until ctx ends (then it returns ctx's
// error).
func Wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

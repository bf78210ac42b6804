package vercel

import (
	"context"
	"time"
)

// SetRetryWait makes p wait before a retry with wait instead of a timer, so
// a test controls the clock of the retries. Call it before p is used.
func SetRetryWait(p *Provider, wait func(ctx context.Context, d time.Duration) error) {
	p.doer.Wait = wait
}

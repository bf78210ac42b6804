package modal

import (
	"context"
	"time"
)

// SetRetryWait replaces the wait between retries, for tests that record
// the waits instead of sleeping them.
func SetRetryWait(p *Provider, wait func(ctx context.Context, d time.Duration) error) {
	p.retry.waitFunc = wait
}

package vercel

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/computemw/kit/providers/internal/vendorhttp"
)

// maxRetryAfter caps how long a Retry-After from Vercel makes a retry
// wait; a longer one is returned to the caller instead.
const maxRetryAfter = 10 * time.Second

type idempotentKey struct{}

// idempotent marks ctx's calls as safe to retry although their method is
// POST (extending a timeout, writing a file to a fixed path, reading a file).
func idempotent(ctx context.Context) context.Context {
	return context.WithValue(ctx, idempotentKey{}, true)
}

// doer sends the provider's requests through a client of
// vendorhttp (which adds the credentials, for its own origin only, and
// follows no redirect) and retries idempotent calls (GET, DELETE, and
// those marked [idempotent]) after a 429, a 502/503/504 or a broken
// connection, with backoff and honouring Retry-After and the context. A
// create or a command is never retried: sent twice, it would run twice.
type doer struct {
	client  *http.Client // from vendorhttp.New
	retries int
	base    time.Duration
	// wait replaces the wait before a retry in tests (nil: a timer).
	wait func(ctx context.Context, d time.Duration) error
}

// sleep waits d before a retry, or until ctx ends (then it returns ctx's
// error).
func (d *doer) sleep(ctx context.Context, wait time.Duration) error {
	if d.wait != nil {
		return d.wait(ctx, wait)
	}
	return vendorhttp.Wait(ctx, wait)
}

// Do sends a request, retrying it when it is idempotent.
func (d *doer) Do(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	retry := req.Method == http.MethodGet || req.Method == http.MethodDelete || ctx.Value(idempotentKey{}) != nil
	for attempt := 0; ; attempt++ {
		resp, err := d.client.Do(req)
		if !retry || attempt >= d.retries || ctx.Err() != nil {
			return resp, err
		}
		wait, again := d.backoff(attempt, resp, err)
		if !again {
			return resp, err
		}
		if req.Body != nil && req.GetBody == nil {
			return resp, err // the body cannot be sent again
		}
		if resp != nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
			resp.Body.Close()
		}
		if err := d.sleep(ctx, wait); err != nil {
			return nil, err
		}
		if req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req.Body = body
		}
	}
}

// backoff says whether an attempt's outcome is worth another try, and
// after how long.
func (d *doer) backoff(attempt int, resp *http.Response, err error) (time.Duration, bool) {
	exp := d.base << attempt
	wait := exp/2 + rand.N(exp/2+1)
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || vendorhttp.Permanent(err) {
			return 0, false
		}
		return wait, true // a refused or broken connection
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		if ra, ok := retryAfter(resp.Header.Get("Retry-After")); ok {
			if ra > maxRetryAfter {
				return 0, false
			}
			return ra, true
		}
		return wait, true
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		return wait, true
	}
	return 0, false
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(v string) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

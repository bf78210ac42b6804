package vendorhttp

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxRetryAfter caps how long a vendor's Retry-After makes a [Retrier]
// wait; a longer one is returned to the caller instead.
const MaxRetryAfter = 10 * time.Second

type idempotentKey struct{}

// Idempotent marks ctx's calls as safe to retry although their method is
// POST (keeping a sandbox alive, writing a file to a fixed path, reading a
// file): a [Retrier] retries them like a GET.
func Idempotent(ctx context.Context) context.Context {
	return context.WithValue(ctx, idempotentKey{}, true)
}

// IsIdempotent reports whether req may be sent twice: a GET, a DELETE, or
// a request whose context was marked with [Idempotent]. It is what a
// [Retrier] with no Idempotent function of its own retries.
func IsIdempotent(req *http.Request) bool {
	return req.Method == http.MethodGet || req.Method == http.MethodDelete || req.Context().Value(idempotentKey{}) != nil
}

// Retrier sends requests through Client (a client from [New]) and retries
// the idempotent ones after a 429, a 502/503/504 or a broken connection,
// with backoff and honouring Retry-After (up to [MaxRetryAfter]) and the
// context. A create or a command is never retried: sent twice, it would
// run twice. A request whose body cannot be sent again (no GetBody) is
// not retried either. Its Do method is a generated client's
// HttpRequestDoer.
type Retrier struct {
	// Client sends each attempt.
	Client *http.Client
	// Retries is how many times an idempotent request is sent again.
	Retries int
	// Base is the first backoff; it doubles with each retry, with jitter.
	Base time.Duration
	// Idempotent says which requests may be retried (nil: [IsIdempotent]).
	Idempotent func(*http.Request) bool
	// Wait replaces the wait before a retry in tests (nil: [Wait]).
	Wait func(ctx context.Context, d time.Duration) error
}

// sleep waits d before a retry, or until ctx ends (then it returns ctx's
// error).
func (r *Retrier) sleep(ctx context.Context, d time.Duration) error {
	if r.Wait != nil {
		return r.Wait(ctx, d)
	}
	return Wait(ctx, d)
}

// Do sends req, retrying it when it is idempotent.
func (r *Retrier) Do(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	idempotent := r.Idempotent
	if idempotent == nil {
		idempotent = IsIdempotent
	}
	retry := idempotent(req)
	for attempt := 0; ; attempt++ {
		resp, err := r.Client.Do(req)
		if !retry || attempt >= r.Retries || ctx.Err() != nil {
			return resp, err
		}
		wait, again := r.backoff(attempt, resp, err)
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
		if err := r.sleep(ctx, wait); err != nil {
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
func (r *Retrier) backoff(attempt int, resp *http.Response, err error) (time.Duration, bool) {
	exp := r.Base << attempt
	wait := exp/2 + rand.N(exp/2+1)
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || Permanent(err) {
			return 0, false
		}
		return wait, true // a refused or broken connection
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		if ra, ok := RetryAfter(resp.Header.Get("Retry-After")); ok {
			if ra > MaxRetryAfter {
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

// RetryAfter parses a Retry-After header: delay-seconds or an HTTP date
// (a date in the past is 0).
func RetryAfter(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
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

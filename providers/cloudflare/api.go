package cloudflare

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/computemw/kit/providers/internal/vendorhttp"
)

// call is one request to the bridge.
type call struct {
	op      string // for errors: "read file"
	method  string
	path    string // escaped path under the bridge URL
	query   url.Values
	session string // the Session-Id header, when set
	json    any    // JSON-encoded body when non-nil
	raw     []byte // raw body (application/octet-stream) when json is nil and raw is non-nil
	// idempotent calls are retried.
	idempotent bool
	want       []int // acceptable statuses
	out        any   // JSON-decoded from a 2xx body when non-nil
	// keep, when non-nil, receives the 2xx answer's body, which the
	// caller closes; out is then ignored.
	keep *io.ReadCloser
}

// do sends c to the bridge, retrying idempotent calls.
func (p *Provider) do(ctx context.Context, c call) error {
	var payload []byte
	ctype := ""
	switch {
	case c.json != nil:
		var err error
		if payload, err = json.Marshal(c.json); err != nil {
			return fmt.Errorf("cloudflare: %s: encoding the request: %w", c.op, err)
		}
		ctype = "application/json"
	case c.raw != nil:
		payload, ctype = c.raw, "application/octet-stream"
	}
	u := p.opts.URL + c.path
	if len(c.query) > 0 {
		u += "?" + c.query.Encode()
	}
	return p.retry(ctx, c.op, c.idempotent, func() (*StatusError, error) {
		var body io.Reader
		if ctype != "" {
			body = bytes.NewReader(payload)
		}
		req, err := http.NewRequestWithContext(ctx, c.method, u, body)
		if err != nil {
			return nil, fmt.Errorf("cloudflare: %s: %w", c.op, err)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if c.session != "" {
			req.Header.Set("Session-Id", c.session)
		}
		resp, err := p.http.Do(req)
		if err != nil {
			return nil, transportError(c.op, err)
		}
		if !statusIn(resp.StatusCode, c.want) {
			defer drainClose(resp.Body)
			return readStatusError(c.op, resp), nil
		}
		if c.keep != nil {
			*c.keep = resp.Body
			return nil, nil
		}
		defer drainClose(resp.Body)
		if c.out != nil {
			dec := json.NewDecoder(io.LimitReader(resp.Body, 1<<20))
			if err := dec.Decode(c.out); err != nil {
				return nil, transportError(c.op, fmt.Errorf("decoding the answer: %w", err))
			}
		}
		return nil, nil
	})
}

func statusIn(s int, want []int) bool {
	for _, w := range want {
		if s == w {
			return true
		}
	}
	return false
}

// drainClose reads a little of what is left so the connection can be
// reused, then closes the body.
func drainClose(rc io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, rc, 64<<10)
	_ = rc.Close()
}

// retryable reports whether an answer or failure may be tried again.
func retryable(se *StatusError, err error) bool {
	if se != nil {
		switch se.Status {
		case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
			http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return false
	}
	// A transport failure (refused, reset) is retryable; a context's end
	// is not, nor a redirect or a request refused for its origin.
	return err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) && !vendorhttp.Permanent(err)
}

// wait waits d before a retry, or until ctx ends. Tests give the provider
// a clock of their own with waitFunc.
func (p *Provider) wait(ctx context.Context, d time.Duration) error {
	if p.waitFunc != nil {
		return p.waitFunc(ctx, d)
	}
	return vendorhttp.Wait(ctx, d)
}

// retry runs attempt until it succeeds, fails for good, or (for idempotent
// calls) the retries are used up. attempt returns either an error answer
// (se) or a failure without an answer (err).
func (p *Provider) retry(ctx context.Context, op string, idempotent bool, attempt func() (*StatusError, error)) error {
	tries := 1
	if idempotent {
		tries += p.opts.MaxRetries
	}
	delay := p.opts.RetryBase
	for i := 0; ; i++ {
		se, err := attempt()
		if se == nil && err == nil {
			return nil
		}
		if i+1 >= tries || !retryable(se, err) || ctx.Err() != nil {
			if se != nil {
				return classify(se)
			}
			return err
		}
		wait := delay
		if se != nil && se.RetryAfter > p.opts.RetryMax {
			// The bridge asks for longer than this call may wait: give
			// the caller the 429 (and its Retry-After) now.
			return classify(se)
		}
		if se != nil && se.RetryAfter > wait {
			wait = se.RetryAfter
		}
		if p.wait(ctx, wait) != nil {
			if se != nil {
				return classify(se)
			}
			return transportError(op, ctx.Err())
		}
		delay = min(2*delay, p.opts.RetryMax)
	}
}

package e2b

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

// The control plane's JSON bodies, with the field names of the vendor's
// OpenAPI description.

// newSandboxBody is NewSandbox.
type newSandboxBody struct {
	TemplateID          string            `json:"templateID"`
	Timeout             int               `json:"timeout"`
	Metadata            map[string]string `json:"metadata,omitempty"`
	EnvVars             map[string]string `json:"envVars,omitempty"`
	AllowInternetAccess *bool             `json:"allow_internet_access,omitempty"`
	// Secure asks for an envd access token: without it the sandbox's envd
	// answers anyone who knows its address. Always true.
	Secure bool `json:"secure"`
}

// sandboxBody is Sandbox, the answer of create and connect.
type sandboxBody struct {
	TemplateID      string  `json:"templateID"`
	SandboxID       string  `json:"sandboxID"`
	Alias           string  `json:"alias,omitempty"`
	ClientID        string  `json:"clientID"`
	EnvdVersion     string  `json:"envdVersion"`
	EnvdAccessToken string  `json:"envdAccessToken,omitempty"`
	Domain          *string `json:"domain,omitempty"`
}

// SandboxInfo describes a sandbox as the control plane lists it
// (SandboxDetail and ListedSandbox).
type SandboxInfo struct {
	TemplateID  string            `json:"templateID"`
	Alias       string            `json:"alias,omitempty"`
	SandboxID   string            `json:"sandboxID"`
	StartedAt   time.Time         `json:"startedAt"`
	EndAt       time.Time         `json:"endAt"`
	CPUCount    int               `json:"cpuCount"`
	MemoryMB    int               `json:"memoryMB"`
	DiskSizeMB  int               `json:"diskSizeMB"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	State       string            `json:"state"`
	EnvdVersion string            `json:"envdVersion"`
	// Domain is set by get (SandboxDetail) only.
	Domain *string `json:"domain,omitempty"`
}

// sandboxMetric is SandboxMetric.
type sandboxMetric struct {
	TimestampUnix int64   `json:"timestampUnix"`
	CPUCount      int     `json:"cpuCount"`
	CPUUsedPct    float64 `json:"cpuUsedPct"`
	MemUsed       int64   `json:"memUsed"`
	MemTotal      int64   `json:"memTotal"`
}

// timeoutBody is SandboxTimeoutRequest and ConnectSandbox.
type timeoutBody struct {
	Timeout int `json:"timeout"`
}

// seconds rounds d up to whole seconds, at least one.
func seconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// call is one control plane request.
type call struct {
	op         string // for errors: "get sandbox"
	method     string
	path       string // escaped path under the API URL
	query      url.Values
	body       any // JSON-encoded when non-nil
	idempotent bool
	want       []int        // acceptable statuses
	out        any          // JSON-decoded from a 2xx body when non-nil
	header     *http.Header // set to the 2xx answer's header when non-nil
}

// api sends c to the control plane, retrying idempotent calls.
func (p *Provider) api(ctx context.Context, c call) error {
	var payload []byte
	if c.body != nil {
		var err error
		if payload, err = json.Marshal(c.body); err != nil {
			return fmt.Errorf("e2b: %s: encoding the request: %w", c.op, err)
		}
	}
	u := p.opts.APIURL + c.path
	if len(c.query) > 0 {
		u += "?" + c.query.Encode()
	}
	return p.retry(ctx, c.op, c.idempotent, func() (*StatusError, error) {
		var body io.Reader
		if payload != nil {
			body = bytes.NewReader(payload)
		}
		req, err := http.NewRequestWithContext(ctx, c.method, u, body)
		if err != nil {
			return nil, fmt.Errorf("e2b: %s: %w", c.op, err)
		}
		req.Header.Set("Accept", "application/json")
		if payload != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := p.cp.Do(req)
		if err != nil {
			return nil, transportError(c.op, err)
		}
		defer drainClose(resp.Body)
		if !statusIn(resp.StatusCode, c.want) {
			return readStatusError(c.op, resp), nil
		}
		if c.header != nil {
			*c.header = resp.Header
		}
		if c.out != nil {
			dec := json.NewDecoder(io.LimitReader(resp.Body, 16<<20))
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
		case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusInternalServerError:
			return true
		}
		return false
	}
	// A transport failure (refused, reset) is retryable; a context's end
	// is not, nor a redirect or a request refused for its origin.
	return err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) && !vendorhttp.Permanent(err)
}

// wait waits d before a retry, or until ctx ends (then it returns ctx's
// error). Tests give the provider a clock of their own with waitFunc.
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
		if se != nil && se.RetryAfter > wait && se.RetryAfter <= p.opts.RetryMax {
			wait = se.RetryAfter
		} else if se != nil && se.RetryAfter > p.opts.RetryMax {
			// The vendor asks for longer than this call may wait: give
			// the caller the 429 (and its Retry-After) now.
			return classify(se)
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

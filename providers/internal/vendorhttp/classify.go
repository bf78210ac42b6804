package vendorhttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/computemw/kit/computemw"
)

// VendorError is what a vendor answered to a failed call. It is the hidden
// cause of the kit error a call returns: logged, never shown to clients.
type VendorError struct {
	// Vendor is the vendor's name, as a [Classifier] has it.
	Vendor string
	// Op names the call ("getSandbox").
	Op string
	// Status is the answer's HTTP status.
	Status int
	// Body is the vendor's message, or the start of the answer's body.
	Body string
}

// Error implements error.
func (e *VendorError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Vendor, e.Op, e.Status, e.Body)
}

// Classifier turns the failed calls of one vendor's REST API into kit
// errors whose messages name the vendor.
type Classifier struct {
	// Vendor is the vendor's name in messages, in lower case ("daytona").
	Vendor string
	// Message extracts the vendor's message from an error body for the
	// log (nil: the body as it is).
	Message func(body []byte) string
}

// Status turns a failed response into a kit error of the class the status
// means. The table is written out so that it reads at a glance:
//
//	400, 422 -> BAD_REQUEST       404, 410 -> NOT_FOUND
//	408, 504 -> TIMEOUT           413      -> PAYLOAD_TOO_LARGE
//	429      -> RATE_LIMITED (with the vendor's Retry-After)
//	507      -> RESOURCE_ERROR    401, 403, 5xx -> UNAVAILABLE
//
// A rejected API key is the server's misconfiguration, not the caller's
// fault, so it is UNAVAILABLE rather than 401. It reads (part of) the body
// and leaves closing it to the caller.
func (c Classifier) Status(op string, resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 2<<10))
	msgOf := string(body)
	if c.Message != nil {
		msgOf = c.Message(body)
	}
	cause := &VendorError{Vendor: c.Vendor, Op: op, Status: resp.StatusCode, Body: msgOf}
	var code computemw.Code
	var msg string
	switch resp.StatusCode {
	case 400, 422:
		code, msg = computemw.CodeBadRequest, c.Vendor+" rejected the request"
	case 404, 410:
		code, msg = computemw.CodeNotFound, "not found"
	case 408, 504:
		code, msg = computemw.CodeTimeout, c.Vendor+" timed out"
	case 413:
		code, msg = computemw.CodePayloadTooLarge, "too large for "+c.Vendor
	case 429:
		code, msg = computemw.CodeRateLimited, c.Vendor+" is rate limiting requests"
	case 507:
		code, msg = computemw.CodeResource, c.Vendor+" has insufficient resources"
	case 401, 403:
		code, msg = computemw.CodeUnavailable, c.Vendor+" rejected the provider's credentials"
	default:
		code, msg = computemw.CodeUnavailable, c.Vendor+" is unavailable"
	}
	e := &computemw.Error{Code: code, Message: msg, Err: cause}
	if resp.StatusCode == 429 || resp.StatusCode == 503 {
		if ra, ok := RetryAfter(resp.Header.Get("Retry-After")); ok {
			e.RetryAfter = ra
		}
	}
	return e
}

// Call classifies an error of the transport: a refused request (see
// [Permanent]) is UNAVAILABLE and says why; the context's own errors keep
// their meaning (TIMEOUT, CLIENT_CLOSED); a broken or refused connection
// is UNAVAILABLE.
func (c Classifier) Call(op string, err error) error {
	if Permanent(err) {
		return Refused(c.Vendor, fmt.Errorf("%s %s: %w", c.Vendor, op, err))
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s %s: %w", c.Vendor, op, err)
	}
	return &computemw.Error{Code: computemw.CodeUnavailable, Message: c.Vendor + " is unreachable", Err: fmt.Errorf("%s %s: %w", c.Vendor, op, err)}
}

// Check sends a call's outcome through the classification: a transport
// error, or a status other than the wanted ones, becomes a kit error (and
// the body is closed); otherwise the response is returned open.
func (c Classifier) Check(op string, resp *http.Response, err error, want ...int) (*http.Response, error) {
	if err != nil {
		return nil, c.Call(op, err)
	}
	for _, w := range want {
		if resp.StatusCode == w {
			return resp, nil
		}
	}
	defer resp.Body.Close()
	return nil, c.Status(op, resp)
}

// Decode reads a JSON response body (at most limit bytes) into v and
// closes it.
func (c Classifier) Decode(op string, resp *http.Response, limit int64, v any) error {
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return c.Call(op, err)
	}
	if int64(len(data)) > limit {
		return &computemw.Error{Code: computemw.CodeResource, Message: c.Vendor + "'s answer is over the size limit", Err: fmt.Errorf("%s %s: response over %d bytes", c.Vendor, op, limit)}
	}
	if err := json.Unmarshal(data, v); err != nil {
		return &computemw.Error{Code: computemw.CodeUnavailable, Message: c.Vendor + " answered something unexpected", Err: fmt.Errorf("%s %s: %w", c.Vendor, op, err)}
	}
	return nil
}

// Refused is the kit error, UNAVAILABLE, of a call that a client from
// [New] stopped: an answer that redirects (never followed) or a request
// for another origin (never sent). Neither may be retried. Its message
// names the vendor as name does ("daytona", "provider e2b") and says
// which of the two it was; cause (the [Permanent] error, wrapped with the
// call's name) is kept hidden.
func Refused(name string, cause error) *computemw.Error {
	msg := name + ": a request outside its configured origin was refused"
	if re := new(RedirectError); errors.As(cause, &re) {
		msg = name + " answered with a redirect, which is not followed"
	}
	return &computemw.Error{Code: computemw.CodeUnavailable, Message: msg, Err: cause}
}

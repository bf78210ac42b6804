package vercel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/internal/vendorhttp"
)

// vendorError is what Vercel answered to a failed call. It is the hidden
// cause of the kit error a call returns: logged, never shown to clients.
type vendorError struct {
	Op     string
	Status int
	Body   string
}

func (e *vendorError) Error() string {
	return fmt.Sprintf("vercel %s: HTTP %d: %s", e.Op, e.Status, e.Body)
}

// statusError turns a failed response into a kit error of the class the
// status means. The table is written out so that it reads at a glance:
//
//	400, 422 -> BAD_REQUEST       404, 410 -> NOT_FOUND
//	408, 504 -> TIMEOUT           413      -> PAYLOAD_TOO_LARGE
//	429      -> RATE_LIMITED (with the vendor's Retry-After)
//	507      -> RESOURCE_ERROR    401, 403, 5xx -> UNAVAILABLE
//
// A rejected API key is the server's misconfiguration, not the caller's
// fault, so it is UNAVAILABLE rather than 401.
func statusError(op string, resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 2<<10))
	cause := &vendorError{Op: op, Status: resp.StatusCode, Body: vendorMessage(body)}
	var code computemw.Code
	var msg string
	switch resp.StatusCode {
	case 400, 422:
		code, msg = computemw.CodeBadRequest, "vercel rejected the request"
	case 404, 410:
		code, msg = computemw.CodeNotFound, "not found"
	case 408, 504:
		code, msg = computemw.CodeTimeout, "vercel timed out"
	case 413:
		code, msg = computemw.CodePayloadTooLarge, "too large for vercel"
	case 429:
		code, msg = computemw.CodeRateLimited, "vercel is rate limiting requests"
	case 507:
		code, msg = computemw.CodeResource, "vercel has insufficient resources"
	case 401, 403:
		code, msg = computemw.CodeUnavailable, "vercel rejected the provider's credentials"
	default:
		code, msg = computemw.CodeUnavailable, "vercel is unavailable"
	}
	e := &computemw.Error{Code: code, Message: msg, Err: cause}
	if resp.StatusCode == 429 || resp.StatusCode == 503 {
		if ra, ok := vendorhttp.RetryAfter(resp.Header.Get("Retry-After")); ok {
			e.RetryAfter = ra
		}
	}
	return e
}

// vendorMessage extracts the code and message of the vendor's error body,
// {"error":{"code","message"}}, for the log.
func vendorMessage(body []byte) string {
	var v struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &v) == nil && (v.Error.Code != "" || v.Error.Message != "") {
		return v.Error.Code + ": " + v.Error.Message
	}
	return string(body)
}

// callError classifies an error of the transport: the context's own
// errors keep their meaning (TIMEOUT, CLIENT_CLOSED); a broken or refused
// connection is UNAVAILABLE.
func callError(op string, err error) error {
	if vendorhttp.Permanent(err) {
		return refusedError(op, err)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("vercel %s: %w", op, err)
	}
	return &computemw.Error{Code: computemw.CodeUnavailable, Message: "vercel is unreachable", Err: fmt.Errorf("vercel %s: %w", op, err)}
}

// refusedError classifies a call that vendorhttp stopped: an answer that
// redirects (never followed: the API documents none),
// or a request for another origin (never sent). Neither is retried.
func refusedError(op string, err error) error {
	msg := "vercel: a request outside its configured origin was refused"
	if re := new(vendorhttp.RedirectError); errors.As(err, &re) {
		msg = "vercel answered with a redirect, which is not followed"
	}
	return &computemw.Error{Code: computemw.CodeUnavailable, Message: msg, Err: fmt.Errorf("vercel %s: %w", op, err)}
}

// check sends a call's outcome through the classification: a transport
// error, or a status other than the wanted ones, becomes a kit error (and
// the body is closed); otherwise the response is returned open.
func check(op string, resp *http.Response, err error, want ...int) (*http.Response, error) {
	if err != nil {
		return nil, callError(op, err)
	}
	for _, w := range want {
		if resp.StatusCode == w {
			return resp, nil
		}
	}
	defer resp.Body.Close()
	return nil, statusError(op, resp)
}

// decode reads a JSON response body (at most limit bytes) into v and
// closes it.
func decode(op string, resp *http.Response, limit int64, v any) error {
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return callError(op, err)
	}
	if int64(len(data)) > limit {
		return &computemw.Error{Code: computemw.CodeResource, Message: "vercel's answer is over the size limit", Err: fmt.Errorf("vercel %s: response over %d bytes", op, limit)}
	}
	if err := json.Unmarshal(data, v); err != nil {
		return &computemw.Error{Code: computemw.CodeUnavailable, Message: "vercel answered something unexpected", Err: fmt.Errorf("vercel %s: %w", op, err)}
	}
	return nil
}

package cloudflare

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/internal/vendorhttp"
)

// StatusError is an error answer of the bridge. It is the hidden cause of
// the kit error a call returns.
type StatusError struct {
	// Op names the call ("create sandbox", "read file").
	Op string
	// Status is the HTTP status.
	Status int
	// Message and Code come from the bridge's error body ({error, code}),
	// when it had them; Code is one of the bridge's stable codes
	// ("invalid_request", "capacity_exceeded", ...).
	Message, Code string
	// RetryAfter is the Retry-After header, when there was one.
	RetryAfter time.Duration
}

// Error implements error.
func (e *StatusError) Error() string {
	s := fmt.Sprintf("cloudflare: %s: HTTP %d", e.Op, e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// bridgeError is the bridge's ErrorResponse, also the data of an exec
// stream's error event.
type bridgeError struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// readStatusError builds a StatusError from an answer that is not 2xx.
func readStatusError(op string, resp *http.Response) *StatusError {
	se := &StatusError{Op: op, Status: resp.StatusCode}
	se.RetryAfter, _ = vendorhttp.RetryAfter(resp.Header.Get("Retry-After"))
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<10))
	var be bridgeError
	if json.Unmarshal(body, &be) == nil && (be.Error != "" || be.Code != "") {
		se.Message, se.Code = be.Error, be.Code
	} else {
		se.Message = strings.TrimSpace(string(body))
	}
	return se
}

// classify turns a StatusError into the kit's error class. The bridge's
// message is shown only where it speaks of the caller's own input (a bad
// path, a missing file); the rest is logged only.
func classify(se *StatusError) error {
	e := &computemw.Error{Err: se}
	switch s := se.Status; {
	case s == http.StatusBadRequest || s == http.StatusConflict || s == http.StatusUnprocessableEntity:
		e.Code, e.Message = computemw.CodeBadRequest, "provider cloudflare refused the request"
		if se.Message != "" {
			e.Message += ": " + truncate(se.Message, 200)
		}
	case s == http.StatusForbidden && se.Code == "invalid_request":
		// A path or working directory outside /workspace.
		e.Code, e.Message = computemw.CodeBadRequest, "provider cloudflare refused the path"
		if se.Message != "" {
			e.Message += ": " + truncate(se.Message, 200)
		}
	case s == http.StatusNotFound || s == http.StatusGone:
		e.Code, e.Message = computemw.CodeNotFound, "not found on provider cloudflare"
	case s == http.StatusRequestTimeout || s == http.StatusGatewayTimeout:
		e.Code, e.Message = computemw.CodeTimeout, "provider cloudflare timed out"
	case s == http.StatusRequestEntityTooLarge:
		e.Code, e.Message = computemw.CodePayloadTooLarge, "provider cloudflare refused a body that large"
	case s == http.StatusInsufficientStorage:
		e.Code, e.Message = computemw.CodeResource, "provider cloudflare has not enough disk space"
	case s == http.StatusTooManyRequests:
		e.Code, e.Message, e.RetryAfter = computemw.CodeRateLimited, "provider cloudflare is rate limiting", se.RetryAfter
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		e.Code, e.Message = computemw.CodeUnavailable, "provider cloudflare refused the credentials"
	case s == http.StatusServiceUnavailable && se.Code == "capacity_exceeded":
		e.Code, e.Message, e.RetryAfter = computemw.CodeUnavailable, "provider cloudflare has no room for another sandbox", se.RetryAfter
	default: // 5xx and anything unexpected
		e.Code, e.Message, e.RetryAfter = computemw.CodeUnavailable, "provider cloudflare is unavailable", se.RetryAfter
	}
	return e
}

// transportError classifies an error that has no answer behind it: a
// cancelled or expired context keeps its class, a network failure is 503.
func transportError(op string, err error) error {
	if vendorhttp.Permanent(err) {
		return refusedError(op, err)
	}
	wrapped := fmt.Errorf("cloudflare: %s: %w", op, err)
	switch ae := computemw.AsError(err); ae.Code {
	case computemw.CodeTimeout, computemw.CodeClientClosed:
		return wrapped
	}
	return &computemw.Error{Code: computemw.CodeUnavailable, Message: "provider cloudflare is unavailable", Err: wrapped}
}

// refusedError classifies a call that vendorhttp stopped: an answer that
// redirects (never followed), or a request for another origin (never
// sent). Neither is retried.
func refusedError(op string, err error) error {
	return vendorhttp.Refused("provider cloudflare", fmt.Errorf("cloudflare: %s: %w", op, err))
}

// unexpected is the error of an answer the bridge's API does not describe.
func unexpected(op, what string) error {
	return &computemw.Error{Code: computemw.CodeUnavailable, Message: "provider cloudflare answered something unexpected",
		Err: fmt.Errorf("cloudflare: %s: %s", op, what)}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

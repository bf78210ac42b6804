package e2b

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/internal/vendorhttp"
)

// apiError is the body of an error answer of either service: {code, message}
// (the control plane adds error_code).
type apiError struct {
	Code      int    `json:"code"`
	ErrorCode string `json:"error_code,omitempty"`
	Message   string `json:"message"`
}

// StatusError is an error answer of the control plane or of envd's /files.
// It is the hidden cause of the kit error a call returns.
type StatusError struct {
	// Op names the call ("create sandbox", "download file").
	Op string
	// Status is the HTTP status.
	Status int
	// Message and ErrorCode come from the body, when it had them.
	Message, ErrorCode string
	// RetryAfter is the Retry-After header, when there was one.
	RetryAfter time.Duration
	// Envd is set when the answer came from a sandbox's envd (its /files
	// endpoint), not from the control plane.
	Envd bool
}

// Error implements error.
func (e *StatusError) Error() string {
	s := fmt.Sprintf("e2b: %s: HTTP %d", e.Op, e.Status)
	if e.ErrorCode != "" {
		s += " " + e.ErrorCode
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// envdStatusError is readStatusError for an answer of envd's /files.
func envdStatusError(op string, resp *http.Response) *StatusError {
	se := readStatusError(op, resp)
	se.Envd = true
	return se
}

// readStatusError builds a StatusError from an answer that is not 2xx.
func readStatusError(op string, resp *http.Response) *StatusError {
	se := &StatusError{Op: op, Status: resp.StatusCode}
	se.RetryAfter, _ = vendorhttp.RetryAfter(resp.Header.Get("Retry-After"))
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<10))
	var ae apiError
	if json.Unmarshal(body, &ae) == nil && (ae.Message != "" || ae.ErrorCode != "") {
		se.Message, se.ErrorCode = ae.Message, ae.ErrorCode
	} else {
		se.Message = strings.TrimSpace(string(body))
	}
	return se
}

// classify turns a StatusError into the kit's error class. The vendor's
// message is shown only where it speaks of the caller's own input (a bad
// path, a missing file); the rest is logged only.
func classify(se *StatusError) error {
	e := &computemw.Error{Err: se}
	switch s := se.Status; {
	case s == http.StatusBadRequest || s == http.StatusConflict || s == http.StatusNotAcceptable || s == http.StatusUnprocessableEntity:
		e.Code, e.Message = computemw.CodeBadRequest, "provider e2b refused the request"
		if se.Message != "" {
			e.Message += ": " + truncate(se.Message, 200)
		}
	case s == http.StatusNotFound || s == http.StatusGone:
		e.Code, e.Message = computemw.CodeNotFound, "not found on provider e2b"
		if se.Message != "" {
			e.Message += ": " + truncate(se.Message, 200)
		}
	case s == http.StatusRequestTimeout || s == http.StatusGatewayTimeout:
		e.Code, e.Message = computemw.CodeTimeout, "provider e2b timed out"
	case s == http.StatusRequestEntityTooLarge:
		e.Code, e.Message = computemw.CodePayloadTooLarge, "provider e2b refused a body that large"
	case s == http.StatusInsufficientStorage:
		e.Code, e.Message = computemw.CodeResource, "provider e2b has not enough disk space"
	case s == http.StatusTooManyRequests:
		e.Code, e.Message, e.RetryAfter = computemw.CodeRateLimited, "provider e2b is rate limiting", se.RetryAfter
	case s == http.StatusUnauthorized && se.Envd:
		// envd's /files answers 401 for a user it cannot find (the
		// username parameter, Options.User): the caller's input.
		e.Code, e.Message = computemw.CodeBadRequest, "provider e2b refused the user"
		if se.Message != "" {
			e.Message += ": " + truncate(se.Message, 200)
		}
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		e.Code, e.Message = computemw.CodeUnavailable, "provider e2b refused the credentials"
	default: // 5xx and anything unexpected
		e.Code, e.Message, e.RetryAfter = computemw.CodeUnavailable, "provider e2b is unavailable", se.RetryAfter
	}
	return e
}

// classifyConnect turns an envd RPC error into the kit's error class.
func classifyConnect(op string, err error) error {
	if err == nil {
		return nil
	}
	if ke := new(computemw.Error); errors.As(err, &ke) {
		return err
	}
	if vendorhttp.Permanent(err) {
		return refusedError(op, err)
	}
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return transportError(op, err)
	}
	wrapped := fmt.Errorf("e2b: %s: %w", op, err)
	msg := truncate(ce.Message(), 200)
	switch ce.Code() {
	case connect.CodeInvalidArgument, connect.CodeFailedPrecondition, connect.CodeOutOfRange, connect.CodeAlreadyExists:
		return &computemw.Error{Code: computemw.CodeBadRequest, Message: "provider e2b refused the request: " + msg, Err: wrapped}
	case connect.CodeNotFound:
		return &computemw.Error{Code: computemw.CodeNotFound, Message: "not found on provider e2b: " + msg, Err: wrapped}
	case connect.CodeDeadlineExceeded:
		return &computemw.Error{Code: computemw.CodeTimeout, Message: "provider e2b timed out", Err: wrapped}
	case connect.CodeResourceExhausted:
		return &computemw.Error{Code: computemw.CodeResource, Message: "provider e2b ran out of resources", Err: wrapped}
	case connect.CodeCanceled:
		return &computemw.Error{Code: computemw.CodeClientClosed, Message: computemw.ErrClientClosed.Message, Err: wrapped}
	case connect.CodePermissionDenied:
		return &computemw.Error{Code: computemw.CodeForbidden, Message: "provider e2b denied access: " + msg, Err: wrapped}
	default:
		return &computemw.Error{Code: computemw.CodeUnavailable, Message: "provider e2b is unavailable", Err: wrapped}
	}
}

// transportError classifies an error that has no answer behind it: a
// cancelled or expired context keeps its class, a network failure is 503.
func transportError(op string, err error) error {
	if vendorhttp.Permanent(err) {
		return refusedError(op, err)
	}
	wrapped := fmt.Errorf("e2b: %s: %w", op, err)
	switch ae := computemw.AsError(err); ae.Code {
	case computemw.CodeTimeout, computemw.CodeClientClosed:
		return wrapped
	}
	return &computemw.Error{Code: computemw.CodeUnavailable, Message: "provider e2b is unavailable", Err: wrapped}
}

// refusedError classifies a call that vendorhttp stopped: an answer that
// redirects (never followed: envd runs in the tenant's sandbox), or a
// request for another origin (never sent). Neither is retried.
func refusedError(op string, err error) error {
	return vendorhttp.Refused("provider e2b", fmt.Errorf("e2b: %s: %w", op, err))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

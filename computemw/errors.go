package computemw

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Code is a stable, machine-readable error code sent to clients in the
// "code" field of every error body.
type Code string

// The stable error codes of the HTTP contract.
const (
	CodeTimeout          Code = "TIMEOUT"
	CodeExecution        Code = "EXECUTION_ERROR"
	CodeResource         Code = "RESOURCE_ERROR"
	CodeBadRequest       Code = "BAD_REQUEST"
	CodeUnauthorized     Code = "UNAUTHORIZED"
	CodeForbidden        Code = "FORBIDDEN"
	CodeNotFound         Code = "NOT_FOUND"
	CodeMethodNotAllowed Code = "METHOD_NOT_ALLOWED"
	CodePayloadTooLarge  Code = "PAYLOAD_TOO_LARGE"
	CodeUnsupportedMedia Code = "UNSUPPORTED_MEDIA_TYPE"
	// CodeRangeNotSatisfiable (416) answers a download's byte range that
	// lies outside the file.
	CodeRangeNotSatisfiable Code = "RANGE_NOT_SATISFIABLE"
	CodeRateLimited         Code = "RATE_LIMITED"
	CodeQuotaExceeded       Code = "QUOTA_EXCEEDED"
	CodeUnavailable         Code = "UNAVAILABLE"
	CodeClientClosed        Code = "CLIENT_CLOSED"
	CodeInternal            Code = "INTERNAL_ERROR"
	// CodeSessionElsewhere (307, with Location) and CodeWrongInstance
	// (421) answer a request for a session that only another kit
	// instance can serve (see Config.InstanceURL).
	CodeSessionElsewhere Code = "SESSION_ELSEWHERE"
	CodeWrongInstance    Code = "WRONG_INSTANCE"
)

// codeStatus returns the HTTP status for a code. The table is written out
// as literals so that it can be compared at a glance with the error table
// of docs/http-api.md (see docs/architecture.md); an unknown code is a 500.
func codeStatus(c Code) int {
	switch c {
	case CodeTimeout:
		return 408
	case CodeExecution:
		return 400
	case CodeResource:
		return 507
	case CodeBadRequest:
		return 400
	case CodeUnauthorized:
		return 401
	case CodeForbidden:
		return 403
	case CodeNotFound:
		return 404
	case CodeMethodNotAllowed:
		return 405
	case CodePayloadTooLarge:
		return 413
	case CodeUnsupportedMedia:
		return 415
	case CodeRangeNotSatisfiable:
		return 416
	case CodeRateLimited:
		return 429
	case CodeQuotaExceeded:
		return 429
	case CodeUnavailable:
		return 503
	case CodeClientClosed:
		return 499 // the client went away; no one reads it
	case CodeSessionElsewhere:
		return 307
	case CodeWrongInstance:
		return 421
	default:
		return 500
	}
}

// Error is the one typed error of the kit. Message and Details are shown to
// the client; Err is the cause and is only logged. Providers and handlers
// return it (or wrap one of the class sentinels below) and a single place,
// [httpapi.API.ErrorResponse], renders it.
type Error struct {
	// Code is the stable code; it decides the HTTP status.
	Code Code
	// Message is a short human-readable message for the client.
	Message string
	// Details is optional structured data for the client, such as the
	// partial output of a timed-out program or a runtime's stderr.
	Details any
	// RetryAfter, when positive, is sent as the Retry-After header.
	RetryAfter time.Duration
	// Err is the underlying cause. It is logged, never sent to the client.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error of the same class, so that
// errors.Is(err, computemw.ErrTimeout) holds for every timeout error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && isSentinel(t) && t.Code == e.Code
}

// Class sentinels. Compare with errors.Is; wrap them with
// fmt.Errorf("%w: detail", ErrBadRequest) to give an error its class without
// building an *Error. The wrapping text is shown to the client (except for
// ErrInternal), so it must not contain host details.
var (
	ErrTimeout       = &Error{Code: CodeTimeout, Message: "operation timed out"}
	ErrExecution     = &Error{Code: CodeExecution, Message: "code execution failed"}
	ErrResource      = &Error{Code: CodeResource, Message: "insufficient resources"}
	ErrBadRequest    = &Error{Code: CodeBadRequest, Message: "bad request"}
	ErrUnauthorized  = &Error{Code: CodeUnauthorized, Message: "unauthorized"}
	ErrForbidden     = &Error{Code: CodeForbidden, Message: "forbidden"}
	ErrNotFound      = &Error{Code: CodeNotFound, Message: "not found"}
	ErrTooLarge      = &Error{Code: CodePayloadTooLarge, Message: "request body too large"}
	ErrRateLimited   = &Error{Code: CodeRateLimited, Message: "too many requests"}
	ErrQuotaExceeded = &Error{Code: CodeQuotaExceeded, Message: "quota exceeded"}
	ErrUnavailable   = &Error{Code: CodeUnavailable, Message: "service unavailable"}
	ErrClientClosed  = &Error{Code: CodeClientClosed, Message: "client closed the request"}
	ErrInternal      = &Error{Code: CodeInternal, Message: "internal server error"}
)

var sentinels = []*Error{
	ErrTimeout, ErrExecution, ErrResource, ErrBadRequest, ErrUnauthorized, ErrForbidden,
	ErrNotFound, ErrTooLarge, ErrRateLimited, ErrQuotaExceeded, ErrUnavailable, ErrClientClosed, ErrInternal,
}

func isSentinel(e *Error) bool {
	for _, s := range sentinels {
		if e == s {
			return true
		}
	}
	return false
}

// Errorf builds an *Error with a formatted client message. A %w verb in
// format records the cause in Err (logged only).
func Errorf(code Code, format string, args ...any) *Error {
	wrapped := fmt.Errorf(format, args...)
	e := &Error{Code: code, Message: wrapped.Error()}
	if u := errors.Unwrap(wrapped); u != nil {
		e.Err = u
	}
	return e
}

// AsError finds the *Error in err's chain, or classifies err: a context
// deadline becomes TIMEOUT, a cancelled context (the client went away)
// CLIENT_CLOSED, an http.MaxBytesReader overflow PAYLOAD_TOO_LARGE,
// anything unknown INTERNAL_ERROR with err as its hidden cause. It never returns nil for a non-nil err. Wrapping an
// *Error again never loses its status.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) && e != nil {
		if isSentinel(e) && err != error(e) {
			// A wrapped sentinel: keep its class and show the wrapping
			// message (callers write client-safe text around a sentinel),
			// except for internal errors, whose text is only logged.
			c := *e
			c.Err = err
			if c.Code != CodeInternal {
				c.Message = err.Error()
			}
			return &c
		}
		return e
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Code: CodeTimeout, Message: ErrTimeout.Message, Err: err}
	}
	if errors.Is(err, context.Canceled) {
		return &Error{Code: CodeClientClosed, Message: ErrClientClosed.Message, Err: err}
	}
	// Only reading a client's body through http.MaxBytesReader makes
	// this one. (A JSON decoding error may be an upstream's, so it is not
	// guessed at here: DecodeJSON classifies the client's.)
	var tooMuch *http.MaxBytesError
	if errors.As(err, &tooMuch) {
		return &Error{Code: CodePayloadTooLarge, Message: ErrTooLarge.Message, Err: err}
	}
	return &Error{Code: CodeInternal, Message: ErrInternal.Message, Err: err}
}

// StatusOf returns the HTTP status that err is rendered with: its code's
// (see [Code]), 500 for an error that carries none, 200 for nil.
func StatusOf(err error) int {
	if err == nil {
		return http.StatusOK
	}
	return codeStatus(AsError(err).Code)
}

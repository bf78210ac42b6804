package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/computemw/kit/computemw"
)

// apiError turns an API server error into a kit error of the class it
// means (nil stays nil). The table, at a glance:
//
//	NotFound, Gone        -> NOT_FOUND
//	Invalid, BadRequest   -> BAD_REQUEST
//	TooManyRequests       -> RATE_LIMITED
//	Timeout, ServerTimeout-> TIMEOUT
//	Unauthorized, Forbidden, anything else -> UNAVAILABLE
//
// A Role that lacks a verb is the server's misconfiguration, not the
// caller's fault, so it is UNAVAILABLE rather than 403. The API server's
// message goes to the log (the hidden cause), never to the client.
func apiError(op string, err error) error {
	if err == nil {
		return nil
	}
	var ke *computemw.Error
	if errors.As(err, &ke) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("kubernetes: %s: %w", op, err)
	}
	cause := fmt.Errorf("kubernetes: %s: %w", op, err)
	var code computemw.Code
	var msg string
	switch {
	case apierrors.IsNotFound(err), apierrors.IsGone(err):
		code, msg = computemw.CodeNotFound, "not found"
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		code, msg = computemw.CodeBadRequest, "the Kubernetes API server rejected the request"
	case apierrors.IsTooManyRequests(err):
		code, msg = computemw.CodeRateLimited, "the Kubernetes API server is rate limiting requests"
	case apierrors.IsTimeout(err), apierrors.IsServerTimeout(err):
		code, msg = computemw.CodeTimeout, "the Kubernetes API server timed out"
	case apierrors.IsUnauthorized(err), apierrors.IsForbidden(err):
		code, msg = computemw.CodeUnavailable, "the Kubernetes API server refused the kit's service account"
	default:
		code, msg = computemw.CodeUnavailable, "the Kubernetes API server is unavailable"
	}
	e := &computemw.Error{Code: code, Message: msg, Err: cause}
	if d, ok := apierrors.SuggestsClientDelay(err); ok && code == computemw.CodeRateLimited {
		e.RetryAfter = time.Duration(d) * time.Second
	}
	return e
}

// grpcError turns a ProcessService error into a kit error:
//
//	NotFound -> NOT_FOUND    InvalidArgument, PermissionDenied -> BAD_REQUEST
//	DeadlineExceeded -> TIMEOUT    ResourceExhausted -> RESOURCE_ERROR
//	FailedPrecondition -> EXECUTION_ERROR    anything else -> UNAVAILABLE
func grpcError(op string, err error) error {
	if err == nil {
		return nil
	}
	var ke *computemw.Error
	if errors.As(err, &ke) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("kubernetes: %s: %w", op, err)
	}
	st, _ := status.FromError(err)
	cause := fmt.Errorf("kubernetes: sandboxd %s: %w", op, err)
	var code computemw.Code
	var msg string
	switch st.Code() {
	case codes.NotFound:
		code, msg = computemw.CodeNotFound, "not found"
	case codes.InvalidArgument, codes.PermissionDenied:
		code, msg = computemw.CodeBadRequest, "the sandbox daemon rejected the request"
	case codes.DeadlineExceeded:
		code, msg = computemw.CodeTimeout, "the sandbox daemon timed out"
	case codes.ResourceExhausted:
		code, msg = computemw.CodeResource, "the sandbox ran out of resources"
	case codes.FailedPrecondition:
		code, msg = computemw.CodeExecution, "the sandbox daemon could not run the process"
	case codes.Canceled:
		return fmt.Errorf("kubernetes: %s: %w", op, context.Canceled)
	default:
		code, msg = computemw.CodeUnavailable, "the sandbox daemon is unavailable"
	}
	return &computemw.Error{Code: code, Message: msg, Err: cause}
}

// daemonError is what sandboxd answered to a failed file call: the hidden
// cause of the kit error, logged, never shown to clients.
type daemonError struct {
	Op     string
	Status int
	Code   string
	Msg    string
}

func (e *daemonError) Error() string {
	return fmt.Sprintf("sandboxd %s: HTTP %d: %s %s", e.Op, e.Status, e.Code, e.Msg)
}

// statusError turns a failed file response (sandboxd's, or the router's)
// into a kit error:
//
//	400, 403 -> BAD_REQUEST   404 -> NOT_FOUND   409 -> BAD_REQUEST
//	413 -> PAYLOAD_TOO_LARGE  507 -> RESOURCE_ERROR
//	429 -> RATE_LIMITED       anything else (the router's 502) -> UNAVAILABLE
//
// sandboxd answers 403 to a path that escapes its root: the caller's bad
// path.
func statusError(op string, resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 2<<10))
	cause := &daemonError{Op: op, Status: resp.StatusCode}
	var v struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Detail  string `json:"detail"` // the router's
	}
	if json.Unmarshal(body, &v) == nil {
		cause.Code, cause.Msg = v.Code, v.Message+v.Detail
	} else {
		cause.Msg = string(body)
	}
	var code computemw.Code
	var msg string
	switch resp.StatusCode {
	case 400, 403, 409:
		code, msg = computemw.CodeBadRequest, "the sandbox daemon rejected the request"
	case 404:
		code, msg = computemw.CodeNotFound, "not found"
	case 413:
		code, msg = computemw.CodePayloadTooLarge, "too large for the sandbox"
	case 429:
		code, msg = computemw.CodeRateLimited, "the sandbox router is rate limiting requests"
	case 507:
		code, msg = computemw.CodeResource, "the sandbox is out of space"
	default:
		code, msg = computemw.CodeUnavailable, "the sandbox daemon is unavailable"
	}
	return &computemw.Error{Code: code, Message: msg, Err: cause}
}

// transportError is a file request that got no answer.
func transportError(op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("kubernetes: %s: %w", op, err)
	}
	return &computemw.Error{Code: computemw.CodeUnavailable, Message: "the sandbox daemon is unreachable",
		Err: fmt.Errorf("kubernetes: %s: %w", op, err)}
}

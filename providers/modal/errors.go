package modal

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/computemw/kit/computemw"
)

// errClass is the kit class an error of Modal falls in.
type errClass int

const (
	classUnavailable errClass = iota + 1
	classBadRequest
	classNotFound
	classTimeout
	classRateLimited
	classResource
)

// vendorError is what Modal answered to a failed call: the hidden cause of
// the kit error a call returns, logged and never shown to clients. gRPC
// statuses carry no request metadata, so no credential is in it.
type vendorError struct {
	Op  string
	Err error
}

func (e *vendorError) Error() string { return fmt.Sprintf("modal %s: %v", e.Op, e.Err) }
func (e *vendorError) Unwrap() error { return e.Err }

// classify turns an error of the SDK into a kit error of the class it
// means. gRPC status codes map as:
//
//	INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE,
//	ALREADY_EXISTS                       -> BAD_REQUEST (400)
//	NOT_FOUND                            -> NOT_FOUND (404)
//	DEADLINE_EXCEEDED                    -> TIMEOUT (408)
//	RESOURCE_EXHAUSTED with a retry policy -> RATE_LIMITED (429, Retry-After)
//	RESOURCE_EXHAUSTED without one       -> RESOURCE_ERROR (507)
//	UNAUTHENTICATED, PERMISSION_DENIED, UNAVAILABLE, INTERNAL,
//	anything else                        -> UNAVAILABLE (503)
//
// A rejected token is the server's misconfiguration, not the caller's
// fault, so it is UNAVAILABLE. The context's own errors keep their meaning.
func classify(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	var kitErr *computemw.Error
	if errors.As(err, &kitErr) {
		return err
	}
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.Canceled || status.Code(err) == codes.DeadlineExceeded) {
		return fmt.Errorf("modal %s: %w", op, ctx.Err())
	}
	cause := &vendorError{Op: op, Err: err}
	class, ok := sdkErrorClass(err)
	var retryAfter time.Duration
	if !ok {
		class = classOfStatus(err)
		if class == classRateLimited {
			retryAfter, _ = retryAfterOf(err)
		}
	}
	e := &computemw.Error{Err: cause}
	switch class {
	case classBadRequest:
		e.Code, e.Message = computemw.CodeBadRequest, "modal rejected the request"
	case classNotFound:
		e.Code, e.Message = computemw.CodeNotFound, "not found"
	case classTimeout:
		e.Code, e.Message = computemw.CodeTimeout, "modal timed out"
	case classRateLimited:
		e.Code, e.Message = computemw.CodeRateLimited, "modal is rate limiting requests"
		if retryAfter > 0 {
			e.RetryAfter = time.Duration(math.Ceil(retryAfter.Seconds())) * time.Second
		}
	case classResource:
		e.Code, e.Message = computemw.CodeResource, "modal has insufficient resources"
	default:
		e.Code, e.Message = computemw.CodeUnavailable, "modal is unavailable"
		switch status.Code(err) {
		case codes.Unauthenticated, codes.PermissionDenied:
			e.Message = "modal rejected the provider's credentials"
		}
	}
	return e
}

func classOfStatus(err error) errClass {
	st, ok := status.FromError(err)
	if !ok {
		return classUnavailable
	}
	switch st.Code() {
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange, codes.AlreadyExists:
		return classBadRequest
	case codes.NotFound:
		return classNotFound
	case codes.DeadlineExceeded:
		return classTimeout
	case codes.ResourceExhausted:
		if _, ok := retryAfterOf(err); ok {
			return classRateLimited
		}
		return classResource
	}
	return classUnavailable
}

// retrier retries idempotent calls: after RATE_LIMITED it waits the
// vendor's Retry-After (up to Options.MaxRetryWait), after UNAVAILABLE a
// doubling backoff. Nothing else is retried.
type retrier struct {
	retries  int
	base     time.Duration
	maxWait  time.Duration
	waitFunc func(ctx context.Context, d time.Duration) error // replaced in tests
}

// do runs an idempotent call, classified, with retries.
func (r *retrier) do(ctx context.Context, op string, call func(context.Context) error) error {
	backoff := r.base
	for attempt := 0; ; attempt++ {
		err := classify(ctx, op, call(ctx))
		if err == nil || attempt >= r.retries || ctx.Err() != nil {
			return err
		}
		var e *computemw.Error
		if !errors.As(err, &e) {
			return err
		}
		wait := backoff
		switch e.Code {
		case computemw.CodeRateLimited:
			if e.RetryAfter > r.maxWait {
				return err
			}
			wait = max(e.RetryAfter, backoff)
		case computemw.CodeUnavailable:
		default:
			return err
		}
		if werr := r.wait(ctx, wait); werr != nil {
			return err
		}
		backoff *= 2
	}
}

func (r *retrier) wait(ctx context.Context, d time.Duration) error {
	if r.waitFunc != nil {
		return r.waitFunc(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

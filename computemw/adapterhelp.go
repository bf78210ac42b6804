package computemw

import "context"

// publicMessage is the client-safe message of e: an internal error's
// detail is only logged.
func publicMessage(e *Error) string {
	if e.Code == CodeInternal {
		return ErrInternal.Message
	}
	return e.Message
}

// LogLateError logs an error that a handler reported after its response
// had started, when the status can no longer change: the error is not lost,
// and no second response is written.
func (k *Kit) LogLateError(ctx context.Context, err error) {
	k.log.ErrorContext(ctx, "computemw: error after the response started",
		"requestId", RequestIDFrom(ctx), "status", StatusOf(err), "error", err)
}

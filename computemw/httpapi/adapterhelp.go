package httpapi

import (
	"context"

	"github.com/computemw/kit/computemw"
)

// publicMessage is the client-safe message of e: an internal error's
// detail is only logged.
func publicMessage(e *computemw.Error) string {
	if e.Code == computemw.CodeInternal {
		return computemw.ErrInternal.Message
	}
	return e.Message
}

// LogLateError logs an error that a handler reported after its response
// had started, when the status can no longer change: the error is not lost,
// and no second response is written.
func (k *API) LogLateError(ctx context.Context, err error) {
	k.log.ErrorContext(ctx, "computemw: error after the response started",
		"requestId", computemw.RequestIDFrom(ctx), "status", computemw.StatusOf(err), "error", err)
}

package graphql

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"time"

	gql "github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/computemw/kit/computemw"
)

// fieldError is a kit error of one field, with the ID of the request the
// field was admitted as (its execution log line and hooks carry it).
type fieldError struct {
	err       error
	requestID string
}

func (e *fieldError) Error() string { return e.err.Error() }
func (e *fieldError) Unwrap() error { return e.err }

// fail returns err of a field admitted with ctx as the kit classifies it
// ([computemw.AsError]: an unknown error is INTERNAL_ERROR), keeping its
// request ID.
func fail(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	return &fieldError{err: computemw.AsError(err), requestID: computemw.RequestIDFrom(ctx)}
}

// presentError renders an error of the GraphQL layer: a kit error keeps
// its code, message, details and Retry-After in extensions (an internal
// one is logged, its text hidden); gqlgen's own errors of the document
// (syntax, validation, variables, complexity) are BAD_REQUEST.
func (h *Handler) presentError(ctx context.Context, err error) *gqlerror.Error {
	gerr := gql.DefaultErrorPresenter(ctx, err)
	var ke *computemw.Error
	switch {
	case errors.As(err, &ke):
		e := computemw.AsError(err)
		var fe *fieldError
		id := ""
		if errors.As(err, &fe) {
			id = fe.requestID
		}
		if e.Code == computemw.CodeInternal && e.Err != nil {
			h.kit.Config().Logger.ErrorContext(ctx, "computemw graphql: field failed", "requestId", id, "error", err)
		}
		gerr.Message = publicMessage(e)
		gerr.Err = nil
		gerr.Extensions = extensions(e, id)
	default:
		// gqlgen's own: the document, its variables or its arguments are
		// invalid, or it asks for what is turned off (introspection). The
		// resolvers return kit errors only (an unexpected failure of
		// theirs is an INTERNAL_ERROR of the kit's, and so is a panic).
		ext := map[string]any{"code": string(computemw.CodeBadRequest)}
		if c, ok := gerr.Extensions["code"]; ok {
			ext["graphqlCode"] = c
		}
		gerr.Err = nil
		gerr.Extensions = ext
	}
	return gerr
}

// internal is an unexpected failure of the transport itself: the client
// sees INTERNAL_ERROR, the log sees err.
func internal(err error) error {
	return &computemw.Error{Code: computemw.CodeInternal, Message: computemw.ErrInternal.Message, Err: err}
}

// extensions are the GraphQL error extensions of a kit error.
func extensions(e *computemw.Error, requestID string) map[string]any {
	ext := map[string]any{"code": string(e.Code)}
	if e.Details != nil {
		ext["details"] = e.Details
	}
	if e.RetryAfter > 0 {
		ext["retryAfter"] = int((e.RetryAfter + time.Second - 1) / time.Second)
	}
	if requestID != "" {
		ext["requestId"] = requestID
	}
	return ext
}

// publicMessage is the message a client may see.
func publicMessage(e *computemw.Error) string {
	if e.Code == computemw.CodeInternal {
		return computemw.ErrInternal.Message
	}
	return e.Message
}

// recoverPanic turns a resolver's panic into an internal error, logged with
// its stack.
func (h *Handler) recoverPanic(ctx context.Context, p any) error {
	return internal(fmt.Errorf("computemw graphql: panic in resolver: %v\n%s", p, debug.Stack()))
}

// graphQLBody is a GraphQL response that carries errors only.
type graphQLBody struct {
	Errors []*gqlerror.Error `json:"errors"`
}

// writeError answers a request refused before GraphQL runs (a host not
// served, a wrong method, an oversized body) with the kit error's HTTP
// status and a GraphQL body holding the error.
func (h *Handler) writeError(w http.ResponseWriter, err error) {
	e := computemw.AsError(err)
	if e.Code == computemw.CodeInternal {
		h.kit.Config().Logger.Error("computemw graphql: request failed", "error", err)
	}
	body, _ := json.Marshal(graphQLBody{Errors: []*gqlerror.Error{{Message: publicMessage(e), Extensions: extensions(e, "")}}})
	w.Header().Set("Content-Type", "application/json")
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	w.WriteHeader(computemw.StatusOf(e))
	_, _ = w.Write(body)
}

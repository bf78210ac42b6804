package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/computemw/kit/computemw"
)

// JSON builds a JSON response.
func JSON(status int, v any) (*Response, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	h := make(http.Header, 2)
	h.Set("Content-Type", "application/json")
	return &Response{Status: status, Header: h, Body: body}, nil
}

// ErrorResponse renders err for the client. Its status and code come from
// [AsError]; an internal error is logged with its cause and sent only as
// INTERNAL_ERROR with the request ID. Clients whose Accept header asks for
// application/problem+json get RFC 9457 problem details with the same code.
//
// A request that has no ID yet (an error raised outside the kit's routes
// and middleware) gets one here, so every error can be traced.
func (k *API) ErrorResponse(ctx context.Context, err error, h computemw.Header) *Response {
	ctx, id := computemw.BeginRequest(ctx, h)
	e := computemw.AsError(err)
	status := computemw.StatusOf(e)
	switch {
	case e.Code == computemw.CodeClientClosed:
		k.log.InfoContext(ctx, "computemw: client closed the request", "requestId", id)
	case e.Code == computemw.CodeInternal:
		k.log.ErrorContext(ctx, "computemw: request failed", "requestId", id, "code", string(e.Code), "status", status, "error", err)
	case e.Code == computemw.CodeUnauthorized || e.Code == computemw.CodeForbidden:
		// A refusal is the client's business, not an error of the
		// server's; the reason is logged, never the credential.
		k.log.InfoContext(ctx, "computemw: request refused", "requestId", id, "code", string(e.Code), "status", status, "reason", refusalReason(e))
	case status >= 500:
		k.log.WarnContext(ctx, "computemw: request failed", "requestId", id, "code", string(e.Code), "status", status, "error", err)
	}
	msg := publicMessage(e)
	details := e.Details
	if r, ok := details.(*computemw.Result); ok && r != nil {
		// The partial output of a stopped program, in the routes' shape.
		details = PartialOutput{Output: r.Stdout, Stderr: r.Stderr, Truncated: r.Truncated}
	}

	var v any
	ctype := "application/json"
	if h != nil && strings.Contains(h.Get("Accept"), "application/problem+json") {
		ctype = "application/problem+json"
		v = ProblemBody{
			Type:      "about:blank",
			Title:     http.StatusText(status),
			Status:    status,
			Detail:    msg,
			Code:      e.Code,
			Details:   details,
			RequestID: id,
		}
	} else {
		v = ErrorBody{Error: msg, Code: e.Code, Details: details, RequestID: id}
	}
	body, jerr := json.Marshal(v)
	if jerr != nil {
		body, _ = json.Marshal(ErrorBody{Error: computemw.ErrInternal.Message, Code: computemw.CodeInternal, RequestID: id})
		status = http.StatusInternalServerError
	}
	hdr := make(http.Header, 3)
	for k, v := range computemw.ResponseHeader(ctx) {
		hdr[k] = v
	}
	hdr.Set("Content-Type", ctype)
	if e.RetryAfter > 0 {
		secs := int((e.RetryAfter + 999_999_999) / 1_000_000_000)
		hdr.Set("Retry-After", strconv.Itoa(secs))
	}
	if id != "" {
		hdr[requestIDCanonical] = []string{id}
	}
	return &Response{Status: status, Header: hdr, Body: body}
}

// refusalReason is what the log says of a 401 or 403: its message, and
// the reason of its details when it has one.
func refusalReason(e *computemw.Error) string {
	if d, ok := e.Details.(map[string]string); ok && d["reason"] != "" {
		return e.Message + ": " + d["reason"]
	}
	return e.Message
}

package graphql

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/computemw/kit/computemw"
)

// fileOp runs one file operation as the route POST /files itself runs it
// ([computemw.Kit.ServeRoute]): admitted with the caller's headers as an
// [computemw.OpFiles] request, authorized, held to the kit's transfer and
// read limits, in the caller's session or a sandbox of its own. The
// answer's JSON is decoded into out (nil for a write); an error answer
// becomes the kit error it was rendered from.
func (h *Handler) fileOp(ctx context.Context, req computemw.FilesRequest, out any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return internal(err)
	}
	r := caller(ctx)
	r.Method = http.MethodPost
	r.Header = jsonHeader{r.Header}
	r.Body = bytes.NewReader(body)
	resp := h.kit.ServeRoute(ctx, h.files, r)
	id := resp.Header.Get(computemw.RequestIDHeader)
	if resp.Status != http.StatusOK {
		return &fieldError{err: responseError(resp), requestID: id}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(resp.Body, out); err != nil {
		return &fieldError{err: internal(err), requestID: id}
	}
	return nil
}

// responseError is the kit error an error response was rendered from.
func responseError(resp *computemw.Response) error {
	var b computemw.ErrorBody
	if err := json.Unmarshal(resp.Body, &b); err != nil || b.Code == "" {
		return &computemw.Error{Code: computemw.CodeInternal, Message: computemw.ErrInternal.Message}
	}
	e := &computemw.Error{Code: b.Code, Message: b.Error, Details: b.Details}
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		e.RetryAfter = time.Duration(secs) * time.Second
	}
	return e
}

// jsonHeader is the caller's headers as a JSON request's: the body the
// transport hands the route is JSON and not compressed, whatever the
// caller's own request was.
type jsonHeader struct{ h computemw.Header }

func (j jsonHeader) Get(key string) string {
	switch http.CanonicalHeaderKey(key) {
	case "Content-Type":
		return "application/json"
	case "Content-Encoding", "Accept":
		return ""
	}
	if j.h == nil {
		return ""
	}
	return j.h.Get(key)
}

// contentSize is the size in bytes of a read file's content.
func contentSize(fc computemw.FileContent) (int, error) {
	if fc.Encoding != "base64" {
		return len(fc.Content), nil
	}
	b, err := base64.StdEncoding.DecodeString(fc.Content)
	if err != nil {
		return 0, internal(err)
	}
	return len(b), nil
}

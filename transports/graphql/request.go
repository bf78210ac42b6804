package graphql

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"mime"
	"net/http"
	"strings"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/httpapi"
)

type callerKey struct{}

// withCaller returns ctx carrying the caller's request as the kit sees it:
// headers, host and address, with which every field is admitted.
func withCaller(ctx context.Context, r *computemw.Request) context.Context {
	return context.WithValue(ctx, callerKey{}, r)
}

// caller returns a copy of the caller's request for one admission.
func caller(ctx context.Context) *computemw.Request {
	r, _ := ctx.Value(callerKey{}).(*computemw.Request)
	if r == nil {
		return &computemw.Request{}
	}
	c := *r
	return &c
}

// admit admits one field as a request of its own of op, with the caller's
// headers: policies run (authentication, rate limits), and the returned
// context goes to the kit's governed calls.
func (h *Handler) admit(ctx context.Context, op computemw.Op) (context.Context, error) {
	return h.kit.Admit(ctx, op, caller(ctx))
}

// readBody checks a POST's body as the kit's JSON routes do — declared
// JSON, not compressed, at most Options.MaxBodyBytes, well-formed — and
// reads it, so that an oversized body is a 413 rather than a decoding
// error, and a malformed one is not echoed back.
func (h *Handler) readBody(r *http.Request) (*http.Request, error) {
	if enc := strings.TrimSpace(r.Header.Get("Content-Encoding")); enc != "" && !strings.EqualFold(enc, "identity") {
		return r, computemw.Errorf(computemw.CodeUnsupportedMedia, "Content-Encoding %q is not accepted: send the body uncompressed", truncate(enc, 32))
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return r, computemw.Errorf(computemw.CodeUnsupportedMedia, "Content-Type must be application/json")
	}
	limit := h.opts.MaxBodyBytes
	if r.ContentLength > limit {
		return r, computemw.Errorf(computemw.CodePayloadTooLarge, "request body exceeds %d bytes", limit)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return r, computemw.Errorf(computemw.CodeBadRequest, "reading the body: %v", err)
	}
	if int64(len(body)) > limit {
		return r, computemw.Errorf(computemw.CodePayloadTooLarge, "request body exceeds %d bytes", limit)
	}
	if !json.Valid(body) {
		return r, computemw.Errorf(computemw.CodeBadRequest, "malformed JSON body")
	}
	c := r.Clone(r.Context())
	c.Body = io.NopCloser(bytes.NewReader(body))
	c.ContentLength = int64(len(body))
	return c, nil
}

// writeResponse writes a response of the kit (a CORS preflight's).
func writeResponse(w http.ResponseWriter, resp *httpapi.Response) {
	maps.Copy(w.Header(), resp.Header)
	w.WriteHeader(resp.Status)
	_, _ = w.Write(resp.Body)
}

// truncate shortens s to at most n bytes for a message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

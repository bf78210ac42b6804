package graphql

import (
	"context"
	"encoding/base64"
	"unicode/utf8"

	"github.com/computemw/kit/computemw"
)

// fileOp runs one file operation through the kit's governed entry,
// [computemw.Kit.Files]: admitted with the caller's headers as an
// [computemw.OpFiles] request, authorized, held to the kit's transfer and
// read limits, in the caller's session or a sandbox of its own.
func (h *Handler) fileOp(ctx context.Context, op computemw.FileOp) (*computemw.FileResult, error) {
	ctx, err := h.admit(ctx, computemw.OpFiles)
	if err != nil {
		return nil, fail(ctx, err)
	}
	res, err := h.kit.Files(ctx, op)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return res, nil
}

// fileContent is a read file's content as the route POST /files answers
// it: UTF-8 text as it is, anything else in base64.
func fileContent(b []byte) (content, encoding string) {
	if utf8.Valid(b) {
		return string(b), "utf8"
	}
	return base64.StdEncoding.EncodeToString(b), "base64"
}

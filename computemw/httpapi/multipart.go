package httpapi

import (
	"context"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"path"

	"github.com/computemw/kit/computemw"
)

// maxUploadParts caps the files of one multipart upload (each part's
// headers are bounded by mime/multipart itself).
const maxUploadParts = 100

// uploadMultipart writes each file part of a multipart/form-data body into
// the session, one after the other, each streamed ([computemw.FileOp]
// Reader): a part's file name (its last element) names the file, in the
// directory named by the optional "path" query parameter (else the
// working directory). A part without a file name is
// refused (400), as is a form of more than maxUploadParts files; the
// files written before a failure stay and are listed in the error's
// details.
func (k *API) uploadMultipart(ctx context.Context, r *computemw.Request, boundary string) (*Response, error) {
	if boundary == "" {
		return nil, computemw.Errorf(computemw.CodeBadRequest, "multipart/form-data needs a boundary parameter")
	}
	q, err := url.ParseQuery(r.RawQuery)
	if err != nil {
		return nil, computemw.Errorf(computemw.CodeBadRequest, "the query string is malformed")
	}
	dir := q.Get("path")
	mr := multipart.NewReader(bodyOf(r), boundary)
	var written []UploadedFile
	fail := func(err error) (*Response, error) {
		if len(written) == 0 {
			return nil, err
		}
		e := *computemw.AsError(err)
		e.Details = map[string]any{"written": written, "cause": e.Details}
		return nil, &e
	}
	for {
		part, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fail(computemw.Errorf(computemw.CodeBadRequest, "the multipart body is malformed"))
		}
		name := part.FileName()
		if name == "" {
			part.Close()
			return fail(computemw.Errorf(computemw.CodeBadRequest, "form field %q is not a file: each part must carry a filename", truncate(part.FormName(), 64)))
		}
		if len(written) == maxUploadParts {
			part.Close()
			return fail(computemw.Errorf(computemw.CodeBadRequest, "at most %d files in one upload", maxUploadParts))
		}
		p := name
		if dir != "" {
			p = path.Join(dir, name)
		}
		res, err := k.kit.Files(ctx, computemw.FileOp{Action: "write", Path: p, SandboxID: targetID(ctx, ""), Reader: part})
		part.Close()
		if err != nil {
			return fail(err)
		}
		written = append(written, UploadedFile{Path: p, Size: res.Written})
	}
	if len(written) == 0 {
		return nil, computemw.Errorf(computemw.CodeBadRequest, "the upload holds no file")
	}
	return JSON(http.StatusOK, UploadResult{Files: written})
}

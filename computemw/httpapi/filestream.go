package httpapi

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/computemw/kit/computemw"
)

// Files as files: a session's file at /sandboxes/{id}/files?path=... is
// downloaded with GET (HEAD, single byte ranges), replaced with a PUT of
// its raw bytes, and a multipart/form-data POST to /sandboxes/{id}/files
// uploads one or more files. Each streams between the client and the
// sandbox, holding one of the kit's transfer slots, never the whole file.

// queryPath is the "path" query parameter, required.
func queryPath(r *computemw.Request) (string, error) {
	q, err := url.ParseQuery(r.RawQuery)
	if err != nil {
		return "", computemw.Errorf(computemw.CodeBadRequest, "the query string is malformed")
	}
	p := q.Get("path")
	if strings.TrimSpace(p) == "" {
		return "", computemw.Errorf(computemw.CodeBadRequest, "query parameter \"path\" is required")
	}
	return p, nil
}

// handleGetFile serves GET /sandboxes/{id}/files?path=...: the file's
// bytes with Content-Type from its extension, Content-Disposition
// attachment (a browser saves the file rather than rendering a page made
// in the sandbox on the application's origin), Accept-Ranges and one byte
// range on request (206, or 416 outside the file).
func (k *API) handleGetFile(ctx context.Context, r *computemw.Request) (*Response, error) {
	p, err := queryPath(r)
	if err != nil {
		return nil, err
	}
	rc, fi, err := k.kit.OpenFile(ctx, computemw.FileOp{Path: p, SandboxID: targetID(ctx, "")})
	if err != nil {
		return nil, err
	}
	h := make(http.Header, 8)
	ct := mime.TypeByExtension(path.Ext(fi.Name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": fi.Name}))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox")
	h.Set("Accept-Ranges", "bytes")
	if !fi.Modified.IsZero() {
		h.Set("Last-Modified", fi.Modified.UTC().Format(http.TimeFormat))
	}
	start, length, status := int64(0), fi.Size, http.StatusOK
	if spec := r.Header.Get("Range"); spec != "" {
		s, n, ok, err := parseRange(spec, fi.Size)
		if err != nil {
			rc.Close()
			if rh := computemw.ResponseHeader(ctx); rh != nil {
				rh.Set("Content-Range", fmt.Sprintf("bytes */%d", fi.Size))
			}
			return nil, &computemw.Error{Code: computemw.CodeRangeNotSatisfiable, Message: err.Error(),
				Details: map[string]any{"size": fi.Size}}
		}
		if ok {
			start, length, status = s, n, http.StatusPartialContent
			h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", s, s+n-1, fi.Size))
		}
	}
	h.Set("Content-Length", strconv.FormatInt(length, 10))
	if r.Method == http.MethodHead {
		rc.Close()
		return &Response{Status: status, Header: h}, nil
	}
	return &Response{Status: status, Header: h, Stream: func(sctx context.Context, w io.Writer, _ func() error) error {
		defer rc.Close()
		stop := context.AfterFunc(sctx, func() { rc.Close() })
		defer stop()
		if start > 0 {
			if s, ok := rc.(io.Seeker); ok {
				if _, err := s.Seek(start, io.SeekStart); err != nil {
					return err
				}
			} else if _, err := io.CopyN(io.Discard, rc, start); err != nil {
				return err
			}
		}
		_, err := io.Copy(w, io.LimitReader(rc, length))
		return err
	}}, nil
}

// parseRange reads a Range header for a file of size bytes. ok is false
// for a header the route ignores (another unit, or several ranges: the
// whole file is then the answer, as RFC 9110 allows); err is set for a
// range that lies outside the file (416).
func parseRange(spec string, size int64) (start, length int64, ok bool, err error) {
	unit, set, found := strings.Cut(spec, "=")
	if !found || strings.TrimSpace(unit) != "bytes" || strings.Contains(set, ",") {
		return 0, 0, false, nil
	}
	first, last, found := strings.Cut(strings.TrimSpace(set), "-")
	if !found {
		return 0, 0, false, nil
	}
	first, last = strings.TrimSpace(first), strings.TrimSpace(last)
	unsatisfiable := fmt.Errorf("range %q is outside the file (%d bytes)", truncate(spec, 64), size)
	if first == "" { // the last n bytes
		n, perr := strconv.ParseInt(last, 10, 64)
		if perr != nil || n < 0 {
			return 0, 0, false, nil
		}
		if n == 0 || size == 0 {
			return 0, 0, false, unsatisfiable
		}
		n = min(n, size)
		return size - n, n, true, nil
	}
	s, perr := strconv.ParseInt(first, 10, 64)
	if perr != nil || s < 0 {
		return 0, 0, false, nil
	}
	if s >= size {
		return 0, 0, false, unsatisfiable
	}
	e := size - 1
	if last != "" {
		v, perr := strconv.ParseInt(last, 10, 64)
		if perr != nil || v < s {
			return 0, 0, false, nil
		}
		e = min(v, size-1)
	}
	return s, e - s + 1, true, nil
}

// handlePutFile serves PUT /sandboxes/{id}/files?path=...: the raw body
// becomes the file (any Content-Type; not compressed).
func (k *API) handlePutFile(ctx context.Context, r *computemw.Request) (*Response, error) {
	p, err := queryPath(r)
	if err != nil {
		return nil, err
	}
	if err := checkIdentity(r.Header); err != nil {
		return nil, err
	}
	res, err := k.kit.Files(ctx, computemw.FileOp{Action: "write", Path: p, SandboxID: targetID(ctx, ""), Reader: bodyOf(r)})
	if err != nil {
		return nil, err
	}
	return JSON(http.StatusOK, UploadResult{Files: []UploadedFile{{Path: p, Size: res.Written}}})
}

// handlePostFiles serves POST /sandboxes/{id}/files: a multipart upload,
// or the JSON form of the file actions.
func (k *API) handlePostFiles(ctx context.Context, r *computemw.Request) (*Response, error) {
	ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "multipart/form-data" {
		return jsonBody(k.handleFiles)(ctx, r)
	}
	if err := checkIdentity(r.Header); err != nil {
		return nil, err
	}
	return k.uploadMultipart(ctx, r, params["boundary"])
}

// bodyOf is the request's body, empty when it has none.
func bodyOf(r *computemw.Request) io.Reader {
	if r.Body == nil {
		return strings.NewReader("")
	}
	return r.Body
}

// checkIdentity refuses a compressed body: nothing is inflated on the
// kit's behalf.
func checkIdentity(h computemw.Header) error {
	if enc := strings.TrimSpace(h.Get("Content-Encoding")); enc != "" && !strings.EqualFold(enc, "identity") {
		return computemw.Errorf(computemw.CodeUnsupportedMedia, "Content-Encoding %q is not accepted: send the body uncompressed", truncate(enc, 32))
	}
	return nil
}

// UploadResult is the answer of an upload: each file written and its size.
type UploadResult struct {
	Files []UploadedFile `json:"files"`
}

// UploadedFile is one file an upload wrote.
type UploadedFile struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
}

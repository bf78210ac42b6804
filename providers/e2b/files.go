package e2b

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"path"
	"strings"

	"connectrpc.com/connect"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/e2b/internal/envd/filesystem"
)

// resolve turns a workspace-relative path into an absolute path under
// Options.Workdir. Absolute paths and paths that climb out are refused.
func (s *Sandbox) resolve(p string) (string, error) {
	if strings.ContainsRune(p, 0) {
		return "", computemw.Errorf(computemw.CodeBadRequest, "path contains a NUL byte")
	}
	if strings.HasPrefix(p, "/") {
		return "", computemw.Errorf(computemw.CodeBadRequest, "path %q must be relative to the workspace", truncate(p, 100))
	}
	if escapes(p) {
		return "", computemw.Errorf(computemw.CodeBadRequest, "path %q leaves the workspace", truncate(p, 100))
	}
	c := path.Clean("/" + p)
	if c == "/" {
		return s.p.opts.Workdir, nil
	}
	return s.p.opts.Workdir + c, nil
}

// escapes reports whether a relative path climbs above its start at any
// point ("a/../../x").
func escapes(p string) bool {
	depth := 0
	for _, part := range strings.Split(p, "/") {
		switch part {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return true
			}
		default:
			depth++
		}
	}
	return false
}

// relative is the inverse of resolve for paths envd returns.
func (s *Sandbox) relative(abs string) string {
	w := s.p.opts.Workdir
	if abs == w {
		return "."
	}
	if rest, ok := strings.CutPrefix(abs, w+"/"); ok {
		return rest
	}
	return abs
}

func (s *Sandbox) fileInfo(e *filesystem.EntryInfo) computemw.FileInfo {
	fi := computemw.FileInfo{Name: e.GetName(), Path: s.relative(e.GetPath()), Size: e.GetSize()}
	switch e.GetType() {
	case filesystem.FileType_FILE_TYPE_DIRECTORY:
		fi.Type = "directory"
	case filesystem.FileType_FILE_TYPE_SYMLINK:
		fi.Type = "symlink"
	default:
		fi.Type = "file"
	}
	if t := e.GetModifiedTime(); t != nil {
		fi.Modified = t.AsTime()
	}
	return fi
}

// filesURL is envd's /files endpoint for an absolute path.
func (s *Sandbox) filesURL(abs string) string {
	q := url.Values{"path": {abs}}
	if s.envd.user != "" {
		q.Set("username", s.envd.user)
	}
	return s.envd.base + "/files?" + q.Encode()
}

// download opens a file's content; the caller closes it.
func (s *Sandbox) download(ctx context.Context, abs string) (io.ReadCloser, error) {
	var body io.ReadCloser
	err := s.p.retry(ctx, "download file", true, func() (*StatusError, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.filesURL(abs), nil)
		if err != nil {
			return nil, err
		}
		resp, err := s.envd.http.Do(req)
		if err != nil {
			return nil, transportError("download file", err)
		}
		if resp.StatusCode != http.StatusOK {
			defer drainClose(resp.Body)
			return envdStatusError("download file", resp), nil
		}
		body = resp.Body
		return nil, nil
	})
	return body, err
}

// upload creates or replaces a file (envd makes the parent directories).
// Not retried. The content goes as a raw application/octet-stream body,
// or as a multipart/form-data form with one "file" part when envd is older
// than octet-stream uploads or the content is empty: envd's API requires a
// body, and an empty raw body is none.
func (s *Sandbox) upload(ctx context.Context, abs string, data []byte) error {
	body, ctype := data, "application/octet-stream"
	if len(data) == 0 || !s.envd.has(octetStreamUpload) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		part, err := mw.CreateFormFile("file", path.Base(abs))
		if err == nil {
			_, err = part.Write(data)
		}
		if err == nil {
			err = mw.Close()
		}
		if err != nil {
			return fmt.Errorf("e2b: upload file: %w", err)
		}
		body, ctype = buf.Bytes(), mw.FormDataContentType()
	}
	return s.p.retry(ctx, "upload file", false, func() (*StatusError, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.filesURL(abs), bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", ctype)
		resp, err := s.envd.http.Do(req)
		if err != nil {
			return nil, transportError("upload file", err)
		}
		defer drainClose(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return envdStatusError("upload file", resp), nil
		}
		return nil, nil
	})
}

// ReadFile returns a file's content, up to Options.MaxReadBytes; a larger
// file is an error of class PAYLOAD_TOO_LARGE.
func (s *Sandbox) ReadFile(ctx context.Context, p string) ([]byte, error) {
	abs, err := s.resolve(p)
	if err != nil {
		return nil, err
	}
	if err := s.alive(); err != nil {
		return nil, err
	}
	body, err := s.download(ctx, abs)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, s.p.opts.MaxReadBytes+1))
	if err != nil {
		return nil, transportError("download file", err)
	}
	if int64(len(data)) > s.p.opts.MaxReadBytes {
		return nil, computemw.Errorf(computemw.CodePayloadTooLarge, "file is larger than %d bytes; download it instead", s.p.opts.MaxReadBytes)
	}
	return data, nil
}

// OpenFile streams a regular file.
func (s *Sandbox) OpenFile(ctx context.Context, p string) (io.ReadCloser, computemw.FileInfo, error) {
	fi, err := s.Stat(ctx, p)
	if err != nil {
		return nil, fi, err
	}
	if fi.Type != "file" {
		return nil, fi, computemw.Errorf(computemw.CodeBadRequest, "%q is a %s, not a regular file", truncate(p, 100), fi.Type)
	}
	abs, _ := s.resolve(p)
	body, err := s.download(ctx, abs)
	if err != nil {
		return nil, fi, err
	}
	return body, fi, nil
}

// WriteFile creates or replaces a file, creating its parent directories.
func (s *Sandbox) WriteFile(ctx context.Context, p string, data []byte) error {
	abs, err := s.resolve(p)
	if err != nil {
		return err
	}
	if abs == s.p.opts.Workdir {
		return computemw.Errorf(computemw.CodeBadRequest, "path names the workspace itself")
	}
	if err := s.alive(); err != nil {
		return err
	}
	return s.upload(ctx, abs, data)
}

// ListFiles lists a directory (one level).
func (s *Sandbox) ListFiles(ctx context.Context, p string) ([]computemw.FileInfo, error) {
	abs, err := s.resolve(p)
	if err != nil {
		return nil, err
	}
	if err := s.alive(); err != nil {
		return nil, err
	}
	var resp *connect.Response[filesystem.ListDirResponse]
	err = s.p.retryConnect(ctx, "list directory", func() (err error) {
		resp, err = s.envd.fs.ListDir(ctx, connect.NewRequest(&filesystem.ListDirRequest{Path: abs, Depth: 1}))
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]computemw.FileInfo, 0, len(resp.Msg.GetEntries()))
	for _, e := range resp.Msg.GetEntries() {
		out = append(out, s.fileInfo(e))
	}
	return out, nil
}

// Stat describes one file or directory.
func (s *Sandbox) Stat(ctx context.Context, p string) (computemw.FileInfo, error) {
	abs, err := s.resolve(p)
	if err != nil {
		return computemw.FileInfo{}, err
	}
	if err := s.alive(); err != nil {
		return computemw.FileInfo{}, err
	}
	return s.statAbs(ctx, abs)
}

func (s *Sandbox) statAbs(ctx context.Context, abs string) (computemw.FileInfo, error) {
	var resp *connect.Response[filesystem.StatResponse]
	err := s.p.retryConnect(ctx, "stat", func() (err error) {
		resp, err = s.envd.fs.Stat(ctx, connect.NewRequest(&filesystem.StatRequest{Path: abs}))
		return err
	})
	if err != nil {
		return computemw.FileInfo{}, err
	}
	if resp.Msg.GetEntry() == nil {
		return computemw.FileInfo{}, &computemw.Error{Code: computemw.CodeUnavailable, Message: "provider e2b is unavailable",
			Err: errors.New("e2b: stat: the answer has no entry")}
	}
	return s.fileInfo(resp.Msg.GetEntry()), nil
}

// Mkdir creates a directory and its parents; an existing directory is fine.
func (s *Sandbox) Mkdir(ctx context.Context, p string) error {
	abs, err := s.resolve(p)
	if err != nil {
		return err
	}
	if err := s.alive(); err != nil {
		return err
	}
	_, err = s.envd.fs.MakeDir(ctx, connect.NewRequest(&filesystem.MakeDirRequest{Path: abs}))
	if connect.CodeOf(err) == connect.CodeAlreadyExists {
		fi, serr := s.statAbs(ctx, abs)
		if serr == nil && fi.Type == "directory" {
			return nil
		}
		return computemw.Errorf(computemw.CodeBadRequest, "%q exists and is not a directory", truncate(p, 100))
	}
	return classifyConnect("make directory", err)
}

// Move renames a file or directory within the workspace.
func (s *Sandbox) Move(ctx context.Context, from, to string) error {
	src, err := s.resolve(from)
	if err != nil {
		return err
	}
	dst, err := s.resolve(to)
	if err != nil {
		return err
	}
	if err := s.alive(); err != nil {
		return err
	}
	_, err = s.envd.fs.Move(ctx, connect.NewRequest(&filesystem.MoveRequest{Source: src, Destination: dst}))
	return classifyConnect("move", err)
}

// Remove deletes a file or a directory tree.
func (s *Sandbox) Remove(ctx context.Context, p string) error {
	abs, err := s.resolve(p)
	if err != nil {
		return err
	}
	if abs == s.p.opts.Workdir {
		return computemw.Errorf(computemw.CodeBadRequest, "path names the workspace itself")
	}
	if err := s.alive(); err != nil {
		return err
	}
	return s.removeAbs(ctx, abs)
}

func (s *Sandbox) removeAbs(ctx context.Context, abs string) error {
	_, err := s.envd.fs.Remove(ctx, connect.NewRequest(&filesystem.RemoveRequest{Path: abs}))
	if err != nil {
		return classifyConnect(fmt.Sprintf("remove %s", path.Base(abs)), err)
	}
	return nil
}

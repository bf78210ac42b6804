package daytona

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime/multipart"
	"path"
	"strings"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/daytona/internal/toolboxclient"
	"github.com/computemw/kit/providers/internal/vendorhttp"
)

// ReadFile implements computemw.Sandbox; files over Options.MaxFileBytes
// are refused with RESOURCE_ERROR.
func (s *Sandbox) ReadFile(ctx context.Context, p string) ([]byte, error) {
	rc, fi, err := s.OpenFile(ctx, p)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if fi.Size > s.p.opts.MaxFileBytes {
		return nil, computemw.Errorf(computemw.CodeResource, "file %q is over %d bytes", p, s.p.opts.MaxFileBytes)
	}
	data, err := io.ReadAll(io.LimitReader(rc, s.p.opts.MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > s.p.opts.MaxFileBytes {
		return nil, computemw.Errorf(computemw.CodeResource, "file %q is over %d bytes", p, s.p.opts.MaxFileBytes)
	}
	return data, nil
}

// OpenFile implements computemw.FileOpener: the download streams from
// Daytona as the caller reads it.
func (s *Sandbox) OpenFile(ctx context.Context, p string) (io.ReadCloser, computemw.FileInfo, error) {
	fi, err := s.Stat(ctx, p)
	if err != nil {
		return nil, computemw.FileInfo{}, err
	}
	if fi.Type == "directory" {
		return nil, computemw.FileInfo{}, computemw.Errorf(computemw.CodeBadRequest, "%q is a directory", p)
	}
	abs, _ := s.resolve(p)
	resp, err := s.tb.DownloadFile(ctx, &toolboxclient.DownloadFileParams{Path: abs})
	resp, err = classify.Check("DownloadFile", resp, err, 200)
	if err != nil {
		return nil, computemw.FileInfo{}, err
	}
	return &downloadBody{ReadCloser: resp.Body}, fi, nil
}

// downloadBody classifies a connection lost in the middle of a download.
type downloadBody struct{ io.ReadCloser }

func (b *downloadBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = classify.Call("DownloadFile", err)
	}
	return n, err
}

// WriteFile implements computemw.Sandbox: it creates the parent
// directories, then uploads the file.
func (s *Sandbox) WriteFile(ctx context.Context, p string, data []byte) error {
	abs, err := s.resolve(p)
	if err != nil {
		return err
	}
	if abs == s.workDir {
		return computemw.Errorf(computemw.CodeBadRequest, "invalid path %q: the working directory itself", p)
	}
	if dir := path.Dir(abs); dir != s.workDir {
		if err := s.mkdir(ctx, dir); err != nil {
			return err
		}
	}
	return s.upload(ctx, abs, data)
}

// upload sends a file to an absolute path. Uploading the same content to
// the same path twice is harmless, so the call is retried.
func (s *Sandbox) upload(ctx context.Context, abs string, data []byte) error {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, err := mw.CreateFormFile("file", path.Base(abs))
	if err != nil {
		return err
	}
	part.Write(data)
	if err := mw.Close(); err != nil {
		return err
	}
	resp, err := s.tb.UploadFileWithBody(vendorhttp.Idempotent(ctx), &toolboxclient.UploadFileParams{Path: abs}, mw.FormDataContentType(), bytes.NewReader(body.Bytes()))
	resp, err = classify.Check("UploadFile", resp, err, 200, 201, 204)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// ListFiles implements computemw.Sandbox.
func (s *Sandbox) ListFiles(ctx context.Context, p string) ([]computemw.FileInfo, error) {
	abs, err := s.resolve(p)
	if err != nil {
		return nil, err
	}
	resp, err := s.tb.ListFiles(ctx, &toolboxclient.ListFilesParams{Path: &abs})
	resp, err = classify.Check("ListFiles", resp, err, 200)
	if err != nil {
		return nil, err
	}
	var list []toolboxclient.FileInfo
	if err := classify.Decode("ListFiles", resp, 32<<20, &list); err != nil {
		return nil, err
	}
	out := make([]computemw.FileInfo, 0, len(list))
	for _, f := range list {
		out = append(out, s.fileInfo(abs+"/"+f.Name, f))
	}
	return out, nil
}

// Stat implements computemw.Sandbox.
func (s *Sandbox) Stat(ctx context.Context, p string) (computemw.FileInfo, error) {
	abs, err := s.resolve(p)
	if err != nil {
		return computemw.FileInfo{}, err
	}
	resp, err := s.tb.GetFileInfo(ctx, &toolboxclient.GetFileInfoParams{Path: abs})
	resp, err = classify.Check("GetFileInfo", resp, err, 200)
	if err != nil {
		return computemw.FileInfo{}, err
	}
	var f toolboxclient.FileInfo
	if err := classify.Decode("GetFileInfo", resp, 1<<20, &f); err != nil {
		return computemw.FileInfo{}, err
	}
	return s.fileInfo(abs, f), nil
}

func (s *Sandbox) fileInfo(abs string, f toolboxclient.FileInfo) computemw.FileInfo {
	typ := "file"
	switch {
	case f.IsDir:
		typ = "directory"
	case strings.HasPrefix(f.Mode, "L"): // Go's FileMode text for a symlink
		typ = "symlink"
	}
	mod, _ := time.Parse(time.RFC3339Nano, f.ModifiedAt)
	name := f.Name
	if name == "" {
		name = path.Base(abs)
	}
	return computemw.FileInfo{Name: name, Path: s.rel(abs), Type: typ, Size: int64(f.Size), Modified: mod}
}

// Mkdir implements computemw.Sandbox.
func (s *Sandbox) Mkdir(ctx context.Context, p string) error {
	abs, err := s.resolve(p)
	if err != nil {
		return err
	}
	return s.mkdir(ctx, abs)
}

// mkdir creates a directory and its parents (mode 0755). Creating an
// existing directory again is harmless, so the call is retried.
func (s *Sandbox) mkdir(ctx context.Context, abs string) error {
	resp, err := s.tb.CreateFolder(vendorhttp.Idempotent(ctx), &toolboxclient.CreateFolderParams{Path: abs, Mode: "0755"})
	resp, err = classify.Check("CreateFolder", resp, err, 200, 201, 204)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// Remove implements computemw.Sandbox: a file, or a directory tree.
func (s *Sandbox) Remove(ctx context.Context, p string) error {
	abs, err := s.resolve(p)
	if err != nil {
		return err
	}
	if abs == s.workDir {
		return computemw.Errorf(computemw.CodeBadRequest, "invalid path %q: the working directory itself", p)
	}
	return s.remove(ctx, abs)
}

func (s *Sandbox) remove(ctx context.Context, abs string) error {
	recursive := true
	resp, err := s.tb.DeleteFile(ctx, &toolboxclient.DeleteFileParams{Path: abs, Recursive: &recursive})
	resp, err = classify.Check("DeleteFile", resp, err, 200, 204)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// removeQuietly removes a file the provider made for itself, on a context
// of its own.
func (s *Sandbox) removeQuietly(abs string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Best effort: destroying the sandbox removes it anyway.
	_ = s.remove(ctx, abs)
}

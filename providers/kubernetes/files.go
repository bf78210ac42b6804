package kubernetes

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	processv1 "sigs.k8s.io/agent-sandbox/packages/sandboxd/spec/process/v1"

	"github.com/computemw/kit/computemw"
)

// fileURL is sandboxd's /v1/files URL of a cleaned relative path.
func (s *Sandbox) fileURL(rel string, query string) string {
	var segs []string
	if rel != "." {
		for _, seg := range strings.Split(rel, "/") {
			segs = append(segs, url.PathEscape(seg))
		}
	}
	u := s.filesURL + "/v1/files/" + strings.Join(segs, "/")
	if query != "" {
		u += "?" + query
	}
	return u
}

// do sends one file request and checks its status.
func (s *Sandbox) do(ctx context.Context, op, method, u string, body io.Reader, want ...int) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, transportError(op, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	resp, err := s.files.Do(req)
	if err != nil {
		return nil, transportError(op, err)
	}
	for _, w := range want {
		if resp.StatusCode == w {
			return resp, nil
		}
	}
	defer resp.Body.Close()
	return nil, statusError(op, resp)
}

// isListing reports whether a GET answered a directory listing.
func isListing(resp *http.Response) bool {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return mt == "application/json"
}

// ReadFile implements computemw.Sandbox (GET /v1/files/{path}), up to
// MaxFileBytes.
func (s *Sandbox) ReadFile(ctx context.Context, p string) ([]byte, error) {
	rc, _, err := s.OpenFile(ctx, p)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, s.p.opts.MaxFileBytes+1))
	if err != nil {
		return nil, transportError("read file", err)
	}
	if int64(len(b)) > s.p.opts.MaxFileBytes {
		return nil, computemw.Errorf(computemw.CodePayloadTooLarge, "file %s is larger than %d bytes", p, s.p.opts.MaxFileBytes)
	}
	return b, nil
}

// OpenFile implements computemw.FileOpener: the file's bytes as sandboxd
// streams them.
func (s *Sandbox) OpenFile(ctx context.Context, p string) (io.ReadCloser, computemw.FileInfo, error) {
	rel, err := s.resolve(p)
	if err != nil {
		return nil, computemw.FileInfo{}, err
	}
	if s.pe != nil {
		return s.podOpenFile(ctx, rel)
	}
	resp, err := s.do(ctx, "read file", http.MethodGet, s.fileURL(rel, ""), nil, 200)
	if err != nil {
		return nil, computemw.FileInfo{}, err
	}
	if isListing(resp) {
		resp.Body.Close()
		return nil, computemw.FileInfo{}, computemw.Errorf(computemw.CodeBadRequest, "%s is a directory", p)
	}
	return resp.Body, s.infoOf(rel, resp), nil
}

// infoOf describes a file from a GET or HEAD answer.
func (s *Sandbox) infoOf(rel string, resp *http.Response) computemw.FileInfo {
	fi := computemw.FileInfo{Name: path.Base(rel), Path: rel, Type: "file"}
	if rel == "." {
		fi.Name = "."
	}
	if isListing(resp) {
		fi.Type = "directory"
	} else if n, err := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64); err == nil {
		fi.Size = n
	}
	if t, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		fi.Modified = t
	}
	return fi
}

// WriteFile implements computemw.Sandbox (PUT /v1/files/{path}: an atomic
// write that creates the parents).
func (s *Sandbox) WriteFile(ctx context.Context, p string, data []byte) error {
	rel, err := s.resolve(p)
	if err != nil {
		return err
	}
	if rel == "." {
		return computemw.Errorf(computemw.CodeBadRequest, "invalid path %q: the working directory itself", p)
	}
	if s.pe != nil {
		return s.podWriteFile(ctx, rel, data)
	}
	resp, err := s.do(ctx, "write file", http.MethodPut, s.fileURL(rel, ""), bytes.NewReader(data), 204, 200, 201)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// listing is sandboxd's DirectoryListing.
type listing struct {
	Path    string `json:"path"`
	Entries []struct {
		Name       string `json:"name"`
		Size       int64  `json:"size"`
		Type       string `json:"type"`
		ModifiedAt string `json:"modified_at"`
	} `json:"entries"`
}

// ListFiles implements computemw.Sandbox (GET /v1/files/{dir}).
func (s *Sandbox) ListFiles(ctx context.Context, p string) ([]computemw.FileInfo, error) {
	rel, err := s.resolve(p)
	if err != nil {
		return nil, err
	}
	if s.pe != nil {
		return s.podList(ctx, rel)
	}
	resp, err := s.do(ctx, "list files", http.MethodGet, s.fileURL(rel, ""), nil, 200)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if !isListing(resp) {
		return nil, computemw.Errorf(computemw.CodeBadRequest, "%s is not a directory", p)
	}
	var l listing
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&l); err != nil {
		return nil, transportError("list files", err)
	}
	out := make([]computemw.FileInfo, 0, len(l.Entries))
	for _, e := range l.Entries {
		fp := e.Name
		if rel != "." {
			fp = rel + "/" + e.Name
		}
		fi := computemw.FileInfo{Name: e.Name, Path: fp, Type: e.Type, Size: e.Size}
		if t, err := time.Parse(time.RFC3339, e.ModifiedAt); err == nil {
			fi.Modified = t
		}
		out = append(out, fi)
	}
	return out, nil
}

// Stat implements computemw.Sandbox (HEAD /v1/files/{path}).
func (s *Sandbox) Stat(ctx context.Context, p string) (computemw.FileInfo, error) {
	rel, err := s.resolve(p)
	if err != nil {
		return computemw.FileInfo{}, err
	}
	if s.pe != nil {
		return s.podStat(ctx, rel)
	}
	resp, err := s.do(ctx, "stat", http.MethodHead, s.fileURL(rel, ""), nil, 200)
	if err != nil {
		return computemw.FileInfo{}, err
	}
	resp.Body.Close()
	return s.infoOf(rel, resp), nil
}

// Mkdir implements computemw.Sandbox. sandboxd has no directory call, so
// it runs mkdir -p (ProcessService Execute) with the path as an argument.
func (s *Sandbox) Mkdir(ctx context.Context, p string) error {
	rel, err := s.resolve(p)
	if err != nil {
		return err
	}
	if s.pe != nil {
		return s.podMkdir(ctx, rel)
	}
	cfg, err := s.config([]string{"mkdir", "-p", "--", rel}, "", nil)
	if err != nil {
		return err
	}
	resp, err := s.proc.Execute(s.outgoing(ctx), &processv1.ExecuteRequest{Config: cfg})
	if err != nil {
		return grpcError("mkdir", err)
	}
	if resp.GetExitCode() != 0 {
		return computemw.Errorf(computemw.CodeBadRequest, "cannot create directory %s: %s", p, strings.TrimSpace(string(resp.GetStderr())))
	}
	return nil
}

// Remove implements computemw.Sandbox (DELETE /v1/files/{path}?recursive=true).
func (s *Sandbox) Remove(ctx context.Context, p string) error {
	rel, err := s.resolve(p)
	if err != nil {
		return err
	}
	if rel == "." {
		return computemw.Errorf(computemw.CodeBadRequest, "invalid path %q: the working directory itself", p)
	}
	if s.pe != nil {
		return s.podRemove(ctx, rel)
	}
	resp, err := s.do(ctx, "remove", http.MethodDelete, s.fileURL(rel, "recursive=true"), nil, 204, 200)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

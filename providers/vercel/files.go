package vercel

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/internal/vendorhttp"
)

// ReadFile implements computemw.Sandbox (POST .../fs/read); files over
// Options.MaxFileBytes are refused with RESOURCE_ERROR.
func (s *Sandbox) ReadFile(ctx context.Context, p string) ([]byte, error) {
	rc, _, err := s.OpenFile(ctx, p)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, s.p.opts.MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > s.p.opts.MaxFileBytes {
		return nil, computemw.Errorf(computemw.CodeResource, "file %q is over %d bytes", p, s.p.opts.MaxFileBytes)
	}
	return data, nil
}

// OpenFile implements computemw.FileOpener: the file streams from Vercel
// as the caller reads it. A missing file is NOT_FOUND.
func (s *Sandbox) OpenFile(ctx context.Context, p string) (io.ReadCloser, computemw.FileInfo, error) {
	abs, err := s.resolve(p)
	if err != nil {
		return nil, computemw.FileInfo{}, err
	}
	// Reading twice reads the same: the call is retried.
	resp, err := s.p.do(vendorhttp.Idempotent(ctx), request{op: "readFile", method: http.MethodPost, path: sessionPath(s.id, "fs", "read"),
		body: map[string]string{"path": abs}})
	resp, err = classify.Check("readFile", resp, err, 200)
	if err != nil {
		return nil, computemw.FileInfo{}, err
	}
	if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, "application/octet-stream") {
		resp.Body.Close()
		return nil, computemw.FileInfo{}, unexpected("readFile", errors.New("content type "+strconv.Quote(ct)+", want application/octet-stream"))
	}
	if resp.ContentLength > s.p.opts.MaxFileBytes {
		resp.Body.Close()
		return nil, computemw.FileInfo{}, computemw.Errorf(computemw.CodeResource, "file %q is over %d bytes", p, s.p.opts.MaxFileBytes)
	}
	fi := computemw.FileInfo{Name: path.Base(abs), Path: s.rel(abs), Type: "file", Size: max(resp.ContentLength, 0)}
	return &downloadBody{ReadCloser: resp.Body}, fi, nil
}

// downloadBody classifies a connection lost in the middle of a download.
type downloadBody struct{ io.ReadCloser }

func (b *downloadBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = classify.Call("readFile", err)
	}
	return n, err
}

// WriteFile implements computemw.Sandbox: the file is sent as a gzipped
// tar (POST .../fs/write), whose extraction makes the parent directories.
func (s *Sandbox) WriteFile(ctx context.Context, p string, data []byte) error {
	abs, err := s.resolve(p)
	if err != nil {
		return err
	}
	if abs == s.workDir {
		return computemw.Errorf(computemw.CodeBadRequest, "invalid path %q: the working directory itself", p)
	}
	if int64(len(data)) > s.p.opts.MaxFileBytes {
		return computemw.Errorf(computemw.CodePayloadTooLarge, "file %q is over %d bytes", p, s.p.opts.MaxFileBytes)
	}
	return s.upload(ctx, abs, data)
}

// upload writes a file at an absolute path inside the working directory:
// one tar entry, named relative to the working directory (sent as x-cwd).
// Writing the same content to the same path twice is harmless, so the
// call is retried.
func (s *Sandbox) upload(ctx context.Context, abs string, data []byte) error {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	h := &tar.Header{Name: s.rel(abs), Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg, ModTime: time.Now()}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	if _, err := tw.Write(data); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return s.p.call(vendorhttp.Idempotent(ctx), request{op: "writeFiles", method: http.MethodPost, path: sessionPath(s.id, "fs", "write"),
		raw: buf.Bytes(), header: http.Header{"Content-Type": {"application/gzip"}, "X-Cwd": {s.workDir}}}, 1<<20, nil)
}

// Mkdir implements computemw.Sandbox. POST .../fs/mkdir makes one
// directory whose parent exists; when it refuses (a parent is missing, or
// the directory exists) the directory and its parents are made by
// `mkdir -p`, as the vendor's SDK does for a recursive mkdir.
func (s *Sandbox) Mkdir(ctx context.Context, p string) error {
	abs, err := s.resolve(p)
	if err != nil {
		return err
	}
	if abs == s.workDir {
		return nil
	}
	err = s.p.call(ctx, request{op: "mkDir", method: http.MethodPost, path: sessionPath(s.id, "fs", "mkdir"),
		body: map[string]string{"path": abs}}, 1<<20, nil)
	if e := computemw.AsError(err); e == nil || e.Code != computemw.CodeBadRequest {
		return err
	}
	_, err = s.helper(ctx, `mkdir -p -- "$1"`, 64<<10, abs)
	return err
}

// ListFiles implements computemw.Sandbox with `find`, as the vendor's SDK
// lists a directory.
func (s *Sandbox) ListFiles(ctx context.Context, p string) ([]computemw.FileInfo, error) {
	abs, err := s.resolve(p)
	if err != nil {
		return nil, err
	}
	out, err := s.helper(ctx, `test -d "$1" || { echo "$1: Not a directory" >&2; test -e "$1" && exit 2; exit 3; }
find "$1" -mindepth 1 -maxdepth 1 -printf '%y/%s/%T@/%f\0'`, 32<<20, abs)
	if err != nil {
		return nil, err
	}
	return s.parseFind(abs, out, false)
}

// Stat implements computemw.Sandbox with `find -maxdepth 0`.
func (s *Sandbox) Stat(ctx context.Context, p string) (computemw.FileInfo, error) {
	abs, err := s.resolve(p)
	if err != nil {
		return computemw.FileInfo{}, err
	}
	out, err := s.helper(ctx, `test -e "$1" || test -L "$1" || exit 3
find "$1" -maxdepth 0 -printf '%y/%s/%T@/%f\0'`, 64<<10, abs)
	if err != nil {
		return computemw.FileInfo{}, err
	}
	list, err := s.parseFind(abs, out, true)
	if err != nil {
		return computemw.FileInfo{}, err
	}
	if len(list) != 1 {
		return computemw.FileInfo{}, unexpected("stat", errors.New("find printed no entry"))
	}
	return list[0], nil
}

// parseFind reads find's "type/size/mtime/name\0" records.
func (s *Sandbox) parseFind(abs, out string, self bool) ([]computemw.FileInfo, error) {
	var list []computemw.FileInfo
	for rec := range strings.SplitSeq(out, "\x00") {
		if rec == "" {
			continue
		}
		f := strings.SplitN(rec, "/", 4)
		if len(f) != 4 {
			return nil, unexpected("list", errors.New("a record of find has no four fields"))
		}
		typ := "file"
		switch f[0] {
		case "d":
			typ = "directory"
		case "l":
			typ = "symlink"
		}
		size, _ := strconv.ParseInt(f[1], 10, 64)
		secs, _ := strconv.ParseFloat(f[2], 64)
		full := abs
		if !self {
			full = abs + "/" + f[3]
		}
		list = append(list, computemw.FileInfo{Name: path.Base(full), Path: s.rel(full), Type: typ, Size: size,
			Modified: time.UnixMilli(int64(secs * 1000)).UTC()})
	}
	return list, nil
}

// Remove implements computemw.Sandbox with `rm -rf`: a file, or a
// directory tree. A missing path is NOT_FOUND.
func (s *Sandbox) Remove(ctx context.Context, p string) error {
	abs, err := s.resolve(p)
	if err != nil {
		return err
	}
	if abs == s.workDir {
		return computemw.Errorf(computemw.CodeBadRequest, "invalid path %q: the working directory itself", p)
	}
	_, err = s.helper(ctx, `test -e "$1" || test -L "$1" || exit 3
rm -rf -- "$1"`, 64<<10, abs)
	return err
}

// removeQuietly removes a file the provider made for itself, on a context
// of its own.
func (s *Sandbox) removeQuietly(abs string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Best effort: stopping the sandbox discards it anyway.
	_, _ = s.helper(ctx, `rm -f -- "$1"`, 64<<10, abs)
}

// helper runs a file operation's shell script with its path as $1 and
// returns its stdout. Exit status 3 means the path does not exist.
func (s *Sandbox) helper(ctx context.Context, script string, limit int64, args ...string) (string, error) {
	if err := s.alive(); err != nil {
		return "", err
	}
	res, err := s.run(ctx, script, args, computemw.ExecOptions{MaxOutputBytes: limit, Timeout: time.Minute})
	if err != nil {
		return "", err
	}
	switch {
	case res.ExitCode == 3:
		return "", computemw.Errorf(computemw.CodeNotFound, "%s: no such file or directory", s.rel(args[0]))
	case res.ExitCode != 0:
		msg := strings.TrimSpace(res.Stderr)
		if len(msg) > 200 {
			msg = msg[:200]
		}
		return "", computemw.Errorf(computemw.CodeBadRequest, "%s", strings.ReplaceAll(msg, s.workDir+"/", ""))
	case res.Truncated:
		return "", computemw.Errorf(computemw.CodeResource, "the listing is over %d bytes", limit)
	}
	return res.Stdout, nil
}

package modal

import (
	"context"
	"path"

	"github.com/computemw/kit/computemw"
)

// The files methods use the SDK's filesystem (Modal's modal-sandbox-fs-tools
// run in the sandbox). Reads, stats and listings are idempotent and
// retried; so are writes of whole files and mkdir -p.

// ReadFile implements computemw.Sandbox; files over Options.MaxFileBytes
// are refused with RESOURCE_ERROR before they are read.
func (s *Sandbox) ReadFile(ctx context.Context, p string) ([]byte, error) {
	fi, err := s.Stat(ctx, p)
	if err != nil {
		return nil, err
	}
	if fi.Type == "directory" {
		return nil, computemw.Errorf(computemw.CodeBadRequest, "%q is a directory", p)
	}
	if fi.Size > s.p.opts.MaxFileBytes {
		return nil, computemw.Errorf(computemw.CodeResource, "file %q is over %d bytes", p, s.p.opts.MaxFileBytes)
	}
	abs, _ := s.resolve(p)
	var data []byte
	err = s.p.retry.do(ctx, "read file", func(ctx context.Context) error {
		var err error
		data, err = s.remote.readFile(ctx, abs)
		return err
	})
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > s.p.opts.MaxFileBytes {
		return nil, computemw.Errorf(computemw.CodeResource, "file %q is over %d bytes", p, s.p.opts.MaxFileBytes)
	}
	return data, nil
}

// WriteFile implements computemw.Sandbox: the SDK creates the parent
// directories and replaces the file.
func (s *Sandbox) WriteFile(ctx context.Context, p string, data []byte) error {
	abs, err := s.resolve(p)
	if err != nil {
		return err
	}
	if abs == s.workDir {
		return computemw.Errorf(computemw.CodeBadRequest, "invalid path %q: the working directory itself", p)
	}
	return s.p.retry.do(ctx, "write file", func(ctx context.Context) error { return s.remote.writeFile(ctx, abs, data) })
}

// ListFiles implements computemw.Sandbox.
func (s *Sandbox) ListFiles(ctx context.Context, p string) ([]computemw.FileInfo, error) {
	abs, err := s.resolve(p)
	if err != nil {
		return nil, err
	}
	var list []sdkFile
	err = s.p.retry.do(ctx, "list files", func(ctx context.Context) error {
		var err error
		list, err = s.remote.listFiles(ctx, abs)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]computemw.FileInfo, 0, len(list))
	for _, f := range list {
		if f.Path == "" {
			f.Path = abs + "/" + f.Name
		}
		out = append(out, s.fileInfo(f))
	}
	return out, nil
}

// Stat implements computemw.Sandbox.
func (s *Sandbox) Stat(ctx context.Context, p string) (computemw.FileInfo, error) {
	abs, err := s.resolve(p)
	if err != nil {
		return computemw.FileInfo{}, err
	}
	var f sdkFile
	err = s.p.retry.do(ctx, "stat", func(ctx context.Context) error {
		var err error
		f, err = s.remote.stat(ctx, abs)
		return err
	})
	if err != nil {
		return computemw.FileInfo{}, err
	}
	if f.Path == "" {
		f.Path = abs
	}
	return s.fileInfo(f), nil
}

func (s *Sandbox) fileInfo(f sdkFile) computemw.FileInfo {
	name := f.Name
	if name == "" {
		name = path.Base(f.Path)
	}
	typ := f.Type
	if typ != "directory" && typ != "symlink" {
		typ = "file"
	}
	return computemw.FileInfo{Name: name, Path: s.rel(f.Path), Type: typ, Size: f.Size, Modified: f.Modified}
}

// Mkdir implements computemw.Sandbox: the directory and its parents.
func (s *Sandbox) Mkdir(ctx context.Context, p string) error {
	abs, err := s.resolve(p)
	if err != nil {
		return err
	}
	return s.p.retry.do(ctx, "mkdir", func(ctx context.Context) error { return s.remote.mkdir(ctx, abs) })
}

// Remove implements computemw.Sandbox: a file, or a directory tree. It is
// sent once: a retry after a removal that succeeded would be NOT_FOUND.
func (s *Sandbox) Remove(ctx context.Context, p string) error {
	abs, err := s.resolve(p)
	if err != nil {
		return err
	}
	if abs == s.workDir {
		return computemw.Errorf(computemw.CodeBadRequest, "invalid path %q: the working directory itself", p)
	}
	return classify(ctx, "remove", s.remote.remove(ctx, abs))
}

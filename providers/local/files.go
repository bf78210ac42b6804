package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"

	"github.com/computemw/kit/computemw"
)

// The filesystem methods work from the host side on the workspace through
// an os.Root, so a path or a symlink planted by sandboxed code can never
// reach outside the workspace. Paths are relative to the workspace, or
// absolute under /workspace. Opens are non-blocking and only regular files
// are read or written, so a FIFO planted in the workspace cannot stall the
// server.

// maxListEntries caps a listing, so that a directory of millions of files
// made by sandboxed code cannot become one huge response.
const maxListEntries = 10000

// rel converts a client path to a clean path relative to the workspace.
func (s *sandbox) rel(p string) (string, error) {
	if p == "" {
		return "", computemw.Errorf(computemw.CodeBadRequest, "path is empty")
	}
	if strings.ContainsRune(p, 0) {
		return "", computemw.Errorf(computemw.CodeBadRequest, "path contains a NUL byte")
	}
	if p == workspaceDir || strings.HasPrefix(p, workspaceDir+"/") {
		p = strings.TrimPrefix(p, workspaceDir)
		p = "." + p
	} else if path.IsAbs(p) {
		return "", computemw.Errorf(computemw.CodeBadRequest, "path %q is outside the workspace (%s)", p, workspaceDir)
	}
	c := path.Clean(p)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", computemw.Errorf(computemw.CodeBadRequest, "path %q escapes the workspace", p)
	}
	return c, nil
}

// fsError maps a filesystem error to the kit's classes without leaking
// host paths.
func (s *sandbox) fsError(p string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return computemw.Errorf(computemw.CodeNotFound, "no such file or directory: %s", p)
	case strings.Contains(err.Error(), "path escapes from parent"):
		return computemw.Errorf(computemw.CodeBadRequest, "path %q escapes the workspace", p)
	case errors.Is(err, syscall.ENOTDIR):
		return computemw.Errorf(computemw.CodeBadRequest, "a parent of %q is not a directory", p)
	case errors.Is(err, syscall.EISDIR):
		return computemw.Errorf(computemw.CodeBadRequest, "%q is a directory", p)
	case errors.Is(err, fs.ErrExist):
		return computemw.Errorf(computemw.CodeBadRequest, "%q already exists", p)
	case errors.Is(err, syscall.ENXIO), errors.Is(err, syscall.ELOOP):
		return computemw.Errorf(computemw.CodeBadRequest, "%q is not a regular file", p)
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EFBIG), errors.Is(err, syscall.EDQUOT):
		return &computemw.Error{Code: computemw.CodeResource, Message: "disk limit exceeded", Err: err}
	case errors.Is(err, syscall.EAGAIN):
		return computemw.Errorf(computemw.CodeBadRequest, "%q is busy (locked or leased by the sandbox)", p)
	case errors.Is(err, os.ErrClosed):
		return computemw.Errorf(computemw.CodeNotFound, "sandbox %s was destroyed", s.id)
	case errors.Is(err, fs.ErrPermission):
		return computemw.Errorf(computemw.CodeForbidden, "permission denied: %s", p)
	}
	return fmt.Errorf("local: %s: %w", p, err)
}

func (s *sandbox) alive() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.destroyed {
		return computemw.Errorf(computemw.CodeNotFound, "sandbox %s was destroyed", s.id)
	}
	return nil
}

// ReadFile implements computemw.Sandbox.
func (s *sandbox) ReadFile(ctx context.Context, p string) ([]byte, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	rel, err := s.rel(p)
	if err != nil {
		return nil, err
	}
	f, err := s.root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, s.fsError(p, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, s.fsError(p, err)
	}
	if fi.IsDir() {
		return nil, computemw.Errorf(computemw.CodeBadRequest, "%q is a directory", p)
	}
	if !fi.Mode().IsRegular() {
		return nil, computemw.Errorf(computemw.CodeBadRequest, "%q is not a regular file", p)
	}
	limit := int64(s.p.cfg.MaxFileBytes)
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, s.fsError(p, err)
	}
	if int64(len(data)) > limit {
		return nil, &computemw.Error{Code: computemw.CodeResource, Message: fmt.Sprintf("file %q is larger than %d bytes", p, limit)}
	}
	return data, nil
}

// WriteFile implements computemw.Sandbox.
func (s *sandbox) WriteFile(ctx context.Context, p string, data []byte) error {
	if err := s.alive(); err != nil {
		return err
	}
	rel, err := s.rel(p)
	if err != nil {
		return err
	}
	if rel == "." {
		return computemw.Errorf(computemw.CodeBadRequest, "%q is a directory", p)
	}
	if uint64(len(data)) > s.p.cfg.MaxFileBytes {
		return &computemw.Error{Code: computemw.CodeResource, Message: fmt.Sprintf("file is larger than %d bytes", s.p.cfg.MaxFileBytes)}
	}
	if err := s.mkdirAll(path.Dir(rel)); err != nil {
		return s.fsError(p, err)
	}
	f, err := s.root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|syscall.O_NONBLOCK, 0o644)
	if err != nil {
		return s.fsError(p, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return s.fsError(p, err)
	}
	if !fi.Mode().IsRegular() {
		return computemw.Errorf(computemw.CodeBadRequest, "%q is not a regular file", p)
	}
	if err := f.Truncate(0); err != nil {
		return s.fsError(p, err)
	}
	if _, err := f.Write(data); err != nil {
		// Leave no partial file to hold the space a full workspace lacks.
		_ = f.Truncate(0)
		return s.fsError(p, err)
	}
	if err := s.own(rel); err != nil {
		return s.fsError(p, err)
	}
	return f.Close()
}

// own gives a host-created file to the sandbox's host uid, so that
// sandboxed code can change it.
func (s *sandbox) own(rel string) error {
	if !s.p.rootUser || s.p.cfg.InsecureNoNamespaces {
		return nil
	}
	return s.root.Lchown(rel, s.p.cfg.HostUID, s.p.cfg.HostGID)
}

// mkdirAll creates rel and its parents inside the workspace.
func (s *sandbox) mkdirAll(rel string) error {
	if rel == "." || rel == "" {
		return nil
	}
	cur := ""
	for _, part := range strings.Split(rel, "/") {
		cur = path.Join(cur, part)
		err := s.root.Mkdir(cur, 0o755)
		if err == nil {
			if err := s.own(cur); err != nil {
				return err
			}
			continue
		}
		if !errors.Is(err, fs.ErrExist) {
			return err
		}
		fi, serr := s.root.Stat(cur)
		if serr != nil {
			return serr
		}
		if !fi.IsDir() {
			return syscall.ENOTDIR
		}
	}
	return nil
}

// Mkdir implements computemw.Sandbox.
func (s *sandbox) Mkdir(ctx context.Context, p string) error {
	if err := s.alive(); err != nil {
		return err
	}
	rel, err := s.rel(p)
	if err != nil {
		return err
	}
	if err := s.mkdirAll(rel); err != nil {
		return s.fsError(p, err)
	}
	return nil
}

// Remove implements computemw.Sandbox.
func (s *sandbox) Remove(ctx context.Context, p string) error {
	if err := s.alive(); err != nil {
		return err
	}
	rel, err := s.rel(p)
	if err != nil {
		return err
	}
	if rel == "." {
		return computemw.Errorf(computemw.CodeBadRequest, "cannot remove the workspace itself")
	}
	if _, err := s.root.Lstat(rel); err != nil {
		return s.fsError(p, err)
	}
	if err := s.root.RemoveAll(rel); err != nil {
		return s.fsError(p, err)
	}
	return nil
}

// Stat implements computemw.Sandbox.
func (s *sandbox) Stat(ctx context.Context, p string) (computemw.FileInfo, error) {
	if err := s.alive(); err != nil {
		return computemw.FileInfo{}, err
	}
	rel, err := s.rel(p)
	if err != nil {
		return computemw.FileInfo{}, err
	}
	fi, err := s.root.Lstat(rel)
	if err != nil {
		return computemw.FileInfo{}, s.fsError(p, err)
	}
	return fileInfo(path.Join(workspaceDir, rel), fi), nil
}

// ListFiles implements computemw.Sandbox.
func (s *sandbox) ListFiles(ctx context.Context, p string) ([]computemw.FileInfo, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	rel, err := s.rel(p)
	if err != nil {
		return nil, err
	}
	d, err := s.root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_DIRECTORY, 0)
	if err != nil {
		return nil, s.fsError(p, err)
	}
	defer d.Close()
	entries, err := d.ReadDir(maxListEntries + 1)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, s.fsError(p, err)
	}
	if len(entries) > maxListEntries {
		return nil, &computemw.Error{Code: computemw.CodeResource, Message: fmt.Sprintf("directory %q has more than %d entries", p, maxListEntries)}
	}
	out := make([]computemw.FileInfo, 0, len(entries))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".computemw-main-") {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, fileInfo(path.Join(workspaceDir, rel, e.Name()), fi))
	}
	return out, nil
}

func fileInfo(p string, fi fs.FileInfo) computemw.FileInfo {
	t := "file"
	switch {
	case fi.IsDir():
		t = "directory"
	case fi.Mode()&fs.ModeSymlink != 0:
		t = "symlink"
	}
	return computemw.FileInfo{Name: fi.Name(), Path: p, Type: t, Size: fi.Size(), Modified: fi.ModTime().UTC()}
}

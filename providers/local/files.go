//go:build linux

package local

import (
	"bytes"
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
	"golang.org/x/sys/unix"
)

// The filesystem methods work from the host side on the workspace through
// its descriptor (walk.go), so a path or a symlink planted by sandboxed
// code can never reach outside the workspace. Paths are relative to the
// workspace, or absolute under /workspace. Only regular files are read or
// written, so a FIFO or device planted in the workspace cannot stall the
// server.

// The caps of a client path: at most maxPathBytes bytes and
// maxPathComponents components (a directory tree 64 deep is far more than
// projects use; Linux's own PATH_MAX is 4096). A longer path is a
// BAD_REQUEST before any work is done.
const (
	maxPathBytes      = 4096
	maxPathComponents = 64
)

// maxListEntries caps a listing, so that a directory of millions of files
// made by sandboxed code cannot become one huge response.
const maxListEntries = 10000

// rel converts a client path to a clean path relative to the workspace.
func (s *sandbox) rel(p string) (string, error) {
	if p == "" {
		return "", computemw.Errorf(computemw.CodeBadRequest, "path is empty")
	}
	if len(p) > maxPathBytes {
		return "", computemw.Errorf(computemw.CodeBadRequest, "path is %d bytes long, at most %d", len(p), maxPathBytes)
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
	if n := strings.Count(c, "/") + 1; n > maxPathComponents {
		return "", computemw.Errorf(computemw.CodeBadRequest, "path has %d components, at most %d", n, maxPathComponents)
	}
	return c, nil
}

// fsError maps a filesystem error to the kit's classes without leaking
// host paths.
func (s *sandbox) fsError(p string, err error) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, fs.ErrNotExist):
		return computemw.Errorf(computemw.CodeNotFound, "no such file or directory: %s", p)
	case strings.Contains(err.Error(), "path escapes from parent"), errors.Is(err, syscall.EXDEV):
		return computemw.Errorf(computemw.CodeBadRequest, "path %q escapes the workspace", p)
	case errors.Is(err, errSymlinkInPath):
		return computemw.Errorf(computemw.CodeBadRequest, "a directory of %q is a symbolic link", p)
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

// using registers a file operation, which a reset waits for (a recycled
// sandbox's workspace serves its next user once no operation of this one
// runs); the caller calls done when the operation is over.
func (s *sandbox) using() (done func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.destroyed {
		return nil, computemw.Errorf(computemw.CodeNotFound, "sandbox %s was destroyed", s.id)
	}
	s.fileOps.Add(1)
	return s.fileOps.Done, nil
}

// openRegular opens a regular file of the workspace for reading.
func (s *sandbox) openRegular(ctx context.Context, p string) (*os.File, string, fs.FileInfo, error) {
	done, err := s.using()
	if err != nil {
		return nil, "", nil, err
	}
	defer done()
	rel, err := s.rel(p)
	if err != nil {
		return nil, "", nil, err
	}
	f, err := s.openBeneath(ctx, rel)
	if err != nil {
		return nil, "", nil, s.fsError(p, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, "", nil, s.fsError(p, err)
	}
	if fi.IsDir() {
		f.Close()
		return nil, "", nil, computemw.Errorf(computemw.CodeBadRequest, "%q is a directory", p)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, "", nil, computemw.Errorf(computemw.CodeBadRequest, "%q is not a regular file", p)
	}
	return f, rel, fi, nil
}

// ReadFile implements computemw.Sandbox. A file larger than
// Config.MaxReadBytes is a PAYLOAD_TOO_LARGE error, found from the open
// file's size before a byte is read (OpenFile streams any size).
func (s *sandbox) ReadFile(ctx context.Context, p string) ([]byte, error) {
	f, _, fi, err := s.openRegular(ctx, p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	limit := s.p.cfg.MaxReadBytes
	tooLarge := func() error {
		return &computemw.Error{Code: computemw.CodePayloadTooLarge, Message: fmt.Sprintf("file %q is larger than %d bytes, the most a read returns", p, limit)}
	}
	if fi.Size() > limit {
		return nil, tooLarge()
	}
	// The file may grow while it is read: never past the limit.
	buf := bytes.NewBuffer(make([]byte, 0, fi.Size()+bytes.MinRead))
	if _, err := buf.ReadFrom(io.LimitReader(f, limit+1)); err != nil {
		return nil, s.fsError(p, err)
	}
	if int64(buf.Len()) > limit {
		return nil, tooLarge()
	}
	return buf.Bytes(), nil
}

// OpenFile opens a regular file of the workspace for streaming: the reader
// holds no more than a read's buffer in memory, whatever the file's size.
// It is resolved like ReadFile (symlinks that stay inside the workspace
// are followed, no other). The caller closes the reader; Destroy closes
// any still open.
func (s *sandbox) OpenFile(ctx context.Context, p string) (io.ReadCloser, computemw.FileInfo, error) {
	f, rel, fi, err := s.openRegular(ctx, p)
	if err != nil {
		return nil, computemw.FileInfo{}, err
	}
	r := &fileReader{File: f, s: s}
	s.mu.Lock()
	if s.destroyed {
		s.mu.Unlock()
		f.Close()
		return nil, computemw.FileInfo{}, computemw.Errorf(computemw.CodeNotFound, "sandbox %s was destroyed", s.id)
	}
	s.readers[r] = true
	s.mu.Unlock()
	return r, fileInfo(path.Join(workspaceDir, rel), fi), nil
}

// fileReader is a file OpenFile handed out; the sandbox tracks it until
// it is closed.
type fileReader struct {
	*os.File
	s *sandbox
}

// Close closes the file and forgets it.
func (r *fileReader) Close() error {
	r.s.mu.Lock()
	delete(r.s.readers, r)
	r.s.mu.Unlock()
	return r.File.Close()
}

// WriteFile implements computemw.Sandbox.
func (s *sandbox) WriteFile(ctx context.Context, p string, data []byte) error {
	if uint64(len(data)) > s.p.cfg.MaxFileBytes {
		return s.tooLarge()
	}
	_, err := s.writeFile(ctx, p, bytes.NewReader(data), 0)
	return err
}

// WriteFileFrom implements computemw.FileWriter: the file is copied from r
// as it arrives, never held whole, and cut at Config.MaxFileBytes.
func (s *sandbox) WriteFileFrom(ctx context.Context, p string, r io.Reader) (int64, error) {
	return s.writeFile(ctx, p, r, 0)
}

func (s *sandbox) tooLarge() error {
	return &computemw.Error{Code: computemw.CodeResource, Message: fmt.Sprintf("file is larger than %d bytes", s.p.cfg.MaxFileBytes)}
}

// errExists: a file that must be new exists already.
var errExists = errors.New("file exists")

// writeFile creates or replaces a file with what src yields; with excl
// (unix.O_EXCL) it only creates one, and answers errExists when the name
// is taken. On any error the file is removed, so that no partial file
// holds the space a full workspace lacks.
func (s *sandbox) writeFile(ctx context.Context, p string, src io.Reader, excl int) (int64, error) {
	done, err := s.using()
	if err != nil {
		return 0, err
	}
	defer done()
	rel, err := s.rel(p)
	if err != nil {
		return 0, err
	}
	if rel == "." {
		return 0, computemw.Errorf(computemw.CodeBadRequest, "%q is a directory", p)
	}
	dirs, last := splitRel(rel)
	dir, err := s.walkDirs(ctx, dirs, true)
	if err != nil {
		return 0, s.fsError(p, err)
	}
	defer unix.Close(dir)
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.walkOps.Add(1)
	fd, err := unix.Openat(dir, last, unix.O_WRONLY|unix.O_CREAT|excl|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0o644)
	if excl != 0 && errors.Is(err, unix.EEXIST) {
		return 0, errExists
	}
	if err != nil {
		return 0, s.fsError(p, &os.PathError{Op: "open", Path: rel, Err: err})
	}
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, s.fsError(p, err)
	}
	if !fi.Mode().IsRegular() {
		return 0, computemw.Errorf(computemw.CodeBadRequest, "%q is not a regular file", p)
	}
	fail := func(err error) (int64, error) {
		_ = f.Truncate(0)
		_ = unix.Unlinkat(dir, last, 0)
		return 0, err
	}
	if err := f.Truncate(0); err != nil {
		return fail(s.fsError(p, err))
	}
	limit := int64(s.p.cfg.MaxFileBytes)
	n, err := io.Copy(f, &ctxReader{ctx: ctx, r: io.LimitReader(src, limit+1)})
	switch {
	case err != nil:
		var pe *os.PathError
		if errors.As(err, &pe) {
			return fail(s.fsError(p, err))
		}
		return fail(err)
	case n > limit:
		return fail(s.tooLarge())
	}
	if s.chown {
		if err := f.Chown(s.uid, s.gid); err != nil {
			return fail(s.fsError(p, err))
		}
	}
	if err := f.Close(); err != nil {
		return fail(s.fsError(p, err))
	}
	return n, nil
}

// ctxReader stops a copy once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Mkdir implements computemw.Sandbox.
func (s *sandbox) Mkdir(ctx context.Context, p string) error {
	done, err := s.using()
	if err != nil {
		return err
	}
	defer done()
	rel, err := s.rel(p)
	if err != nil {
		return err
	}
	if rel == "." {
		return nil
	}
	dir, err := s.walkDirs(ctx, strings.Split(rel, "/"), true)
	if err != nil {
		return s.fsError(p, err)
	}
	unix.Close(dir)
	return nil
}

// Remove implements computemw.Sandbox.
func (s *sandbox) Remove(ctx context.Context, p string) error {
	done, err := s.using()
	if err != nil {
		return err
	}
	defer done()
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
	done, err := s.using()
	if err != nil {
		return computemw.FileInfo{}, err
	}
	defer done()
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
	done, err := s.using()
	if err != nil {
		return nil, err
	}
	defer done()
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

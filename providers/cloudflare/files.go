package cloudflare

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/computemw/kit/computemw"
)

// resolve turns a workspace-relative path into a clean relative path (""
// for the workspace itself). Absolute paths and paths that climb out are
// refused.
func resolve(p string) (string, error) {
	if strings.ContainsRune(p, 0) {
		return "", computemw.Errorf(computemw.CodeBadRequest, "path contains a NUL byte")
	}
	if strings.HasPrefix(p, "/") {
		return "", computemw.Errorf(computemw.CodeBadRequest, "path %q must be relative to the workspace", truncate(p, 100))
	}
	depth := 0
	for _, part := range strings.Split(p, "/") {
		switch part {
		case "", ".":
		case "..":
			if depth--; depth < 0 {
				return "", computemw.Errorf(computemw.CodeBadRequest, "path %q leaves the workspace", truncate(p, 100))
			}
		default:
			depth++
		}
	}
	c := path.Clean("/" + p)
	return strings.TrimPrefix(c, "/"), nil
}

// filePath is the bridge's path of a workspace file: the file's absolute
// path without its leading slash, each segment escaped.
func (s *Sandbox) filePath(rel string) string {
	segs := strings.Split(strings.TrimPrefix(workspacePath(rel), "/"), "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return sandboxPath(s.id) + "/file/" + strings.Join(segs, "/")
}

// putFile writes a file through the bridge (which makes its parent
// directories). Writing a file again with the same content is the same as
// once: the call is retried.
func (s *Sandbox) putFile(ctx context.Context, op, rel string, data []byte) error {
	if len(data) == 0 {
		// The bridge's write takes a body; an empty file is made by a
		// command, as the vendor's SDKs make what the bridge has no
		// route for.
		_, code, stderr, err := s.capture(ctx, op, `mkdir -p -- "$(dirname -- "$1")" && : >"$1"`, 1<<10, "./"+rel)
		return scriptError(op, rel, code, stderr, err)
	}
	return s.p.do(ctx, call{op: op, method: http.MethodPut, path: s.filePath(rel), raw: data,
		idempotent: true, want: []int{http.StatusOK}})
}

// getFile reads a whole file of at most max bytes.
func (s *Sandbox) getFile(ctx context.Context, rel string, max int64) ([]byte, error) {
	body, err := s.openFile(ctx, rel)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, max+1))
	if err != nil {
		return nil, transportError("read file", err)
	}
	if int64(len(data)) > max {
		return nil, computemw.Errorf(computemw.CodePayloadTooLarge, "file is larger than %d bytes; download it instead", max)
	}
	return data, nil
}

// openFile opens a file's content; the caller closes it.
func (s *Sandbox) openFile(ctx context.Context, rel string) (io.ReadCloser, error) {
	var body io.ReadCloser
	err := s.p.do(ctx, call{op: "read file", method: http.MethodGet, path: s.filePath(rel),
		idempotent: true, want: []int{http.StatusOK}, keep: &body})
	return body, err
}

// ReadFile returns a file's content, up to Options.MaxReadBytes; a larger
// file is an error of class PAYLOAD_TOO_LARGE.
func (s *Sandbox) ReadFile(ctx context.Context, p string) ([]byte, error) {
	rel, err := resolve(p)
	if err != nil {
		return nil, err
	}
	if err := s.alive(); err != nil {
		return nil, err
	}
	if rel == "" {
		return nil, computemw.Errorf(computemw.CodeBadRequest, "path names the workspace itself")
	}
	return s.getFile(ctx, rel, s.p.opts.MaxReadBytes)
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
	rel, _ := resolve(p)
	body, err := s.openFile(ctx, rel)
	if err != nil {
		return nil, fi, err
	}
	return body, fi, nil
}

// WriteFile creates or replaces a file, creating its parent directories.
func (s *Sandbox) WriteFile(ctx context.Context, p string, data []byte) error {
	rel, err := resolve(p)
	if err != nil {
		return err
	}
	if rel == "" {
		return computemw.Errorf(computemw.CodeBadRequest, "path names the workspace itself")
	}
	if err := s.alive(); err != nil {
		return err
	}
	return s.putFile(ctx, "write file", rel, data)
}

// Exit codes of the provider's file scripts.
const (
	exitMissing = 44 // no such file
	exitKind    = 45 // not a directory (list), or not one (mkdir)
)

// statScript prints "type size mtime name" of its argument, NUL-ended;
// listScript the same of each entry of a directory. Both use GNU find,
// which the bridge's sandbox image has.
const (
	statScript = `[ -e "$1" ] || [ -L "$1" ] || exit 44
find "$1" -maxdepth 0 -printf '%y %s %T@ %f\0'`
	listScript = `[ -e "$1" ] || [ -L "$1" ] || exit 44
[ -d "$1" ] || exit 45
find "$1" -mindepth 1 -maxdepth 1 -printf '%y %s %T@ %f\0'`
	mkdirScript = `if [ -e "$1" ] && [ ! -d "$1" ]; then exit 45; fi
mkdir -p -- "$1"`
	removeScript = `[ -e "$1" ] || [ -L "$1" ] || exit 44
rm -rf -- "$1"`
)

// ListFiles lists a directory (one level). The bridge has no listing
// route: the listing comes from find, run through the exec stream, as the
// vendor's SDKs list. The provider's own directory (.computemw) is left
// out of the workspace's listing.
func (s *Sandbox) ListFiles(ctx context.Context, p string) ([]computemw.FileInfo, error) {
	rel, err := resolve(p)
	if err != nil {
		return nil, err
	}
	if err := s.alive(); err != nil {
		return nil, err
	}
	max := int64(s.p.opts.MaxListEntries) * 320
	out, code, stderr, err := s.capture(ctx, "list directory", listScript, max, "./"+rel)
	if err := scriptError("list directory", p, code, stderr, err); err != nil {
		return nil, err
	}
	var files []computemw.FileInfo
	for _, rec := range bytes.Split(out, []byte{0}) {
		if len(rec) == 0 {
			continue
		}
		fi, ok := parseEntry(rec, rel)
		if !ok {
			return nil, unexpected("list directory", "an entry find printed cannot be read")
		}
		if rel == "" && fi.Name == hidden {
			continue
		}
		if len(files) >= s.p.opts.MaxListEntries {
			return nil, computemw.Errorf(computemw.CodeResource, "the directory has more than %d entries", s.p.opts.MaxListEntries)
		}
		files = append(files, fi)
	}
	return files, nil
}

// Stat describes one file or directory (through find, as ListFiles).
func (s *Sandbox) Stat(ctx context.Context, p string) (computemw.FileInfo, error) {
	rel, err := resolve(p)
	if err != nil {
		return computemw.FileInfo{}, err
	}
	if err := s.alive(); err != nil {
		return computemw.FileInfo{}, err
	}
	out, code, stderr, err := s.capture(ctx, "stat", statScript, 8<<10, "./"+rel)
	if err := scriptError("stat", p, code, stderr, err); err != nil {
		return computemw.FileInfo{}, err
	}
	rec, _, _ := bytes.Cut(out, []byte{0})
	fi, ok := parseEntry(rec, path.Dir("/" + rel)[1:])
	if !ok {
		return computemw.FileInfo{}, unexpected("stat", "what find printed cannot be read")
	}
	if rel == "" {
		fi.Name, fi.Path = ".", "."
	}
	return fi, nil
}

// Mkdir creates a directory and its parents (mkdir -p through the exec
// stream); an existing directory is fine.
func (s *Sandbox) Mkdir(ctx context.Context, p string) error {
	rel, err := resolve(p)
	if err != nil {
		return err
	}
	if err := s.alive(); err != nil {
		return err
	}
	_, code, stderr, err := s.capture(ctx, "make directory", mkdirScript, 1<<10, "./"+rel)
	return scriptError("make directory", p, code, stderr, err)
}

// Remove deletes a file or a directory tree (rm -rf through the exec
// stream). A missing path is NOT_FOUND.
func (s *Sandbox) Remove(ctx context.Context, p string) error {
	rel, err := resolve(p)
	if err != nil {
		return err
	}
	if rel == "" {
		return computemw.Errorf(computemw.CodeBadRequest, "path names the workspace itself")
	}
	if err := s.alive(); err != nil {
		return err
	}
	_, code, stderr, err := s.capture(ctx, "remove", removeScript, 1<<10, "./"+rel)
	return scriptError("remove", p, code, stderr, err)
}

// scriptError turns the end of a file script into the kit's error class.
func scriptError(op, p string, code int, stderr string, err error) error {
	switch {
	case err != nil:
		return err
	case code == 0:
		return nil
	case code == exitMissing:
		return computemw.Errorf(computemw.CodeNotFound, "%q does not exist", truncate(p, 100))
	case code == exitKind && op == "make directory":
		return computemw.Errorf(computemw.CodeBadRequest, "%q exists and is not a directory", truncate(p, 100))
	case code == exitKind:
		return computemw.Errorf(computemw.CodeBadRequest, "%q is not a directory", truncate(p, 100))
	}
	return &computemw.Error{Code: computemw.CodeExecution, Message: fmt.Sprintf("%s failed in the sandbox (exit %d)", op, code),
		Details: truncate(strings.TrimSpace(stderr), 500)}
}

// parseEntry reads one record "type size mtime name" of find's -printf;
// dir is the workspace-relative directory the entry is in.
func parseEntry(rec []byte, dir string) (computemw.FileInfo, bool) {
	parts := strings.SplitN(string(rec), " ", 4)
	if len(parts) != 4 {
		return computemw.FileInfo{}, false
	}
	size, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return computemw.FileInfo{}, false
	}
	secs, err := strconv.ParseFloat(parts[2], 64)
	if err != nil {
		return computemw.FileInfo{}, false
	}
	whole, frac := math.Modf(secs)
	fi := computemw.FileInfo{Name: parts[3], Size: size, Modified: time.Unix(int64(whole), int64(frac*1e9)).UTC()}
	fi.Path = fi.Name
	if dir != "" && dir != "." {
		fi.Path = dir + "/" + fi.Name
	}
	switch parts[0] {
	case "d":
		fi.Type = "directory"
	case "l":
		fi.Type = "symlink"
	default:
		fi.Type = "file"
	}
	return fi, true
}

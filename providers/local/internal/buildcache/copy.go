//go:build linux

package buildcache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// CopyTree copies the regular files and directories under src into the
// new directory dst, refusing symbolic links, devices and FIFOs, more than
// maxArtefactFiles files and more than maxBytes bytes, and returns their
// manifest. src is reached only through its os.Root, so nothing in it can
// lead the copy elsewhere on the host.
func CopyTree(src *os.Root, dst string, maxBytes int64) (*Manifest, error) {
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return nil, fmt.Errorf("build cache: %w", err)
	}
	m := &Manifest{}
	var total int64
	err := fs.WalkDir(src.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		switch {
		case d.IsDir():
			return os.Mkdir(filepath.Join(dst, filepath.FromSlash(p)), 0o700)
		case !d.Type().IsRegular():
			return fmt.Errorf("%s is not a regular file", p)
		}
		if len(m.Files) >= maxArtefactFiles {
			return fmt.Errorf("more than %d files", maxArtefactFiles)
		}
		f, err := src.OpenFile(filepath.FromSlash(p), os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", p)
		}
		total += fi.Size()
		if total > maxBytes {
			return fmt.Errorf("more than %d bytes", maxBytes)
		}
		mode := uint32(fi.Mode().Perm()&0o755 | 0o400)
		out, err := os.OpenFile(filepath.Join(dst, filepath.FromSlash(p)), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(f, fi.Size()+1))
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if n != fi.Size() {
			return fmt.Errorf("%s changed while it was copied", p)
		}
		m.Files = append(m.Files, File{Path: p, Mode: mode, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("the compiler's output cannot be kept: %w", err)
	}
	return m, nil
}

// Install copies the artefact of m, from src (an entry Open returned),
// into dir (new) of dst, checking every file against the manifest, and
// gives each file and directory it makes to own. A mismatch returns
// ErrCorrupt; the caller removes dir.
func Install(src *os.Root, m *Manifest, dst *os.Root, dir string, own func(rel string) error) error {
	if err := dst.Mkdir(dir, 0o755); err != nil {
		return err
	}
	if err := own(dir); err != nil {
		return err
	}
	for _, f := range m.Files {
		if !fs.ValidPath(f.Path) {
			return ErrCorrupt
		}
		rel := path.Join(dir, f.Path)
		if parent := path.Dir(f.Path); parent != "." {
			for _, d := range parents(parent) {
				p := path.Join(dir, d)
				if err := dst.Mkdir(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
					return err
				}
				if err := own(p); err != nil {
					return err
				}
			}
		}
		if err := copyVerified(src, f, dst, rel); err != nil {
			return err
		}
		if err := own(rel); err != nil {
			return err
		}
	}
	return nil
}

// parents lists a slash path's directories from the top: a, a/b, a/b/c.
func parents(p string) []string {
	parts := strings.Split(p, "/")
	out := make([]string, len(parts))
	for i := range parts {
		out[i] = strings.Join(parts[:i+1], "/")
	}
	return out
}

// copyVerified copies one artefact file into rel of dst and checks its
// hash.
func copyVerified(src *os.Root, f File, dst *os.Root, rel string) error {
	in, err := src.OpenFile(filepath.FromSlash(f.Path), os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return ErrCorrupt
	}
	defer in.Close()
	out, err := dst.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, fs.FileMode(f.Mode&0o755))
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(in, f.Size+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if n != f.Size || hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
		return ErrCorrupt
	}
	return nil
}

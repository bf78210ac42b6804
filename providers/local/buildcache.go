//go:build linux

package local

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// buildCache is the content-addressed store of compiled artefacts on the
// host: an entry's key hashes the language, the toolchain's identity, the
// compile flags, the template and the source. Only the provider writes it,
// after a successful compile, copying the compile step's output through a
// descriptor-confined walk (regular files and directories only); no
// sandbox ever has it mounted. Each entry has a manifest with the SHA-256
// of every file, checked again whenever the entry is copied out, so an
// entry changed on disk is dropped and rebuilt, never served.
type buildCache struct {
	dir      string // BuildCacheDir: 0700, owned by the server
	maxBytes int64  // entries are evicted, least recently used first, past this
	maxEntry int64  // the largest artefact kept

	mu sync.Mutex // serialises eviction
}

// manifest lists an artefact's files.
type manifest struct {
	Files []manifestFile `json:"files"`
}

// manifestFile is one regular file of an artefact.
type manifestFile struct {
	Path   string `json:"path"` // slash-separated, relative
	Mode   uint32 `json:"mode"` // permission bits
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// size is the artefact's size in bytes.
func (m *manifest) size() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

// maxArtefactFiles bounds the files of one artefact (Java writes a class
// file per class).
const maxArtefactFiles = 4096

// errCorrupt: a cache entry no longer matches its manifest.
var errCorrupt = errors.New("local: build cache entry does not match its manifest")

// prepare creates the cache directory, private to the server.
func (c *buildCache) prepare() error {
	if err := os.MkdirAll(filepath.Join(c.dir, "objects"), 0o700); err != nil {
		return fmt.Errorf("local: build cache: %w", err)
	}
	for _, d := range []string{c.dir, filepath.Join(c.dir, "objects")} {
		fi, err := os.Lstat(d)
		if err != nil {
			return fmt.Errorf("local: build cache: %w", err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("local: build cache: %s is not a directory", d)
		}
		if err := os.Chmod(d, 0o700); err != nil {
			return fmt.Errorf("local: build cache: %w", err)
		}
	}
	return nil
}

// entryDir is where the entry of key lives.
func (c *buildCache) entryDir(key string) string {
	return filepath.Join(c.dir, "objects", key[:2], key)
}

// open returns the entry of key, or fs.ErrNotExist. Using an entry marks
// it recently used.
func (c *buildCache) open(key string) (*os.Root, *manifest, error) {
	dir := c.entryDir(key)
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, nil, err
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		c.drop(key)
		return nil, nil, fs.ErrNotExist
	}
	root, err := os.OpenRoot(filepath.Join(dir, "files"))
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	_ = os.Chtimes(dir, now, now)
	return root, &m, nil
}

// drop removes the entry of key.
func (c *buildCache) drop(key string) { _ = os.RemoveAll(c.entryDir(key)) }

// put copies the artefact in src (the compile step's output directory)
// into the entry of key, and returns its manifest.
func (c *buildCache) put(key string, src *os.Root) (*manifest, error) {
	tmp, err := os.MkdirTemp(c.dir, "tmp-")
	if err != nil {
		return nil, fmt.Errorf("local: build cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	m, err := copyTree(src, filepath.Join(tmp, "files"), c.maxEntry)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("local: build cache: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "manifest.json"), data, 0o600); err != nil {
		return nil, fmt.Errorf("local: build cache: %w", err)
	}
	dst := c.entryDir(key)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return nil, fmt.Errorf("local: build cache: %w", err)
	}
	// Another compile of the same program may have won the race: both
	// entries hold the same artefact, the first stays.
	if err := os.Rename(tmp, dst); err != nil && !errors.Is(err, fs.ErrExist) && !errors.Is(err, unix.ENOTEMPTY) {
		return nil, fmt.Errorf("local: build cache: %w", err)
	}
	c.evict()
	return m, nil
}

// evict removes the least recently used entries until the cache holds at
// most maxBytes.
func (c *buildCache) evict() {
	c.mu.Lock()
	defer c.mu.Unlock()
	type entry struct {
		dir  string
		used time.Time
		size int64
	}
	var entries []entry
	var total int64
	shards, _ := os.ReadDir(filepath.Join(c.dir, "objects"))
	for _, sh := range shards {
		keys, _ := os.ReadDir(filepath.Join(c.dir, "objects", sh.Name()))
		for _, k := range keys {
			dir := filepath.Join(c.dir, "objects", sh.Name(), k.Name())
			fi, err := os.Stat(dir)
			if err != nil {
				continue
			}
			var m manifest
			if data, err := os.ReadFile(filepath.Join(dir, "manifest.json")); err == nil {
				_ = json.Unmarshal(data, &m)
			}
			entries = append(entries, entry{dir, fi.ModTime(), m.size()})
			total += m.size()
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].used.Before(entries[j].used) })
	for _, e := range entries {
		if total <= c.maxBytes {
			return
		}
		_ = os.RemoveAll(e.dir)
		total -= e.size
	}
}

// copyTree copies the regular files and directories under src into the
// new directory dst, refusing symbolic links, devices and FIFOs, more than
// maxArtefactFiles files and more than maxBytes bytes, and returns their
// manifest. src is reached only through its os.Root, so nothing in it can
// lead the copy elsewhere on the host.
func copyTree(src *os.Root, dst string, maxBytes int64) (*manifest, error) {
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return nil, fmt.Errorf("local: build cache: %w", err)
	}
	m := &manifest{}
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
		m.Files = append(m.Files, manifestFile{Path: p, Mode: mode, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("local: the compiler's output cannot be kept: %w", err)
	}
	return m, nil
}

// installArtefact copies a cached artefact into dir (workspace-relative,
// new) of the sandbox's workspace, checking every file against the
// manifest. A mismatch returns errCorrupt; the caller removes dir.
func (s *sandbox) installArtefact(src *os.Root, m *manifest, dir string) error {
	if err := s.root.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("local: %w", err)
	}
	if err := s.giveToSandbox(dir); err != nil {
		return err
	}
	for _, f := range m.Files {
		if !fs.ValidPath(f.Path) {
			return errCorrupt
		}
		rel := path.Join(dir, f.Path)
		if parent := path.Dir(f.Path); parent != "." {
			for _, d := range parents(parent) {
				p := path.Join(dir, d)
				if err := s.root.Mkdir(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
					return fmt.Errorf("local: %w", err)
				}
				if err := s.giveToSandbox(p); err != nil {
					return err
				}
			}
		}
		if err := s.copyVerified(src, f, rel); err != nil {
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

// copyVerified copies one artefact file into the workspace and checks its
// hash.
func (s *sandbox) copyVerified(src *os.Root, f manifestFile, rel string) error {
	in, err := src.OpenFile(filepath.FromSlash(f.Path), os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return errCorrupt
	}
	defer in.Close()
	out, err := s.root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, fs.FileMode(f.Mode&0o755))
	if err != nil {
		return fmt.Errorf("local: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(in, f.Size+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("local: %w", err)
	}
	if n != f.Size || hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
		return errCorrupt
	}
	return s.giveToSandbox(rel)
}

// giveToSandbox gives a file the provider made in the workspace to the
// sandbox's uid, where that differs from the server's.
func (s *sandbox) giveToSandbox(rel string) error {
	if !s.chown {
		return nil
	}
	if err := s.root.Lchown(rel, s.uid, s.gid); err != nil {
		return fmt.Errorf("local: %w", err)
	}
	return nil
}

//go:build linux

// Package buildcache holds the build cache: compiled artefacts on the
// host, keyed by what built them, each checked against its manifest
// whenever it is used.
package buildcache

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

// Cache is the content-addressed store of compiled artefacts on the
// host: an entry's key hashes the language, the toolchain's identity, the
// compile flags, the template and the source. Only the provider writes it,
// after a successful compile, copying the compile step's output through a
// descriptor-confined walk (regular files and directories only); no
// sandbox ever has it mounted. Each entry has a manifest with the SHA-256
// of every file, checked again whenever the entry is copied out, so an
// entry changed on disk is dropped and rebuilt, never served.
type Cache struct {
	dir      string // BuildCacheDir: 0700, owned by the server
	maxBytes int64  // entries are evicted, least recently used first, past this
	maxEntry int64  // the largest artefact kept

	mu sync.Mutex // serialises eviction
}

// New returns the cache in dir, which holds at most maxBytes, and no
// artefact larger than maxEntry. Prepare creates the directory.
func New(dir string, maxBytes, maxEntry int64) *Cache {
	return &Cache{dir: dir, maxBytes: maxBytes, maxEntry: maxEntry}
}

// Dir is the cache's directory.
func (c *Cache) Dir() string { return c.dir }

// Manifest lists an artefact's files.
type Manifest struct {
	Files []File `json:"files"`
}

// File is one regular file of an artefact.
type File struct {
	Path   string `json:"path"` // slash-separated, relative
	Mode   uint32 `json:"mode"` // permission bits
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// size is the artefact's size in bytes.
func (m *Manifest) size() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

// maxArtefactFiles bounds the files of one artefact (Java writes a class
// file per class).
const maxArtefactFiles = 4096

// ErrCorrupt: a cache entry no longer matches its manifest.
var ErrCorrupt = errors.New("build cache entry does not match its manifest")

// Prepare creates the cache directory, private to the server.
func (c *Cache) Prepare() error {
	if err := os.MkdirAll(filepath.Join(c.dir, "objects"), 0o700); err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	for _, d := range []string{c.dir, filepath.Join(c.dir, "objects")} {
		fi, err := os.Lstat(d)
		if err != nil {
			return fmt.Errorf("build cache: %w", err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("build cache: %s is not a directory", d)
		}
		if err := os.Chmod(d, 0o700); err != nil {
			return fmt.Errorf("build cache: %w", err)
		}
	}
	return nil
}

// entryDir is where the entry of key lives.
func (c *Cache) entryDir(key string) string {
	return filepath.Join(c.dir, "objects", key[:2], key)
}

// Open returns the entry of key, or fs.ErrNotExist. Using an entry marks
// it recently used.
func (c *Cache) Open(key string) (*os.Root, *Manifest, error) {
	dir := c.entryDir(key)
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, nil, err
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		c.Drop(key)
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

// Drop removes the entry of key.
func (c *Cache) Drop(key string) { _ = os.RemoveAll(c.entryDir(key)) }

// Put copies the artefact in src (the compile step's output directory)
// into the entry of key, and returns its manifest.
func (c *Cache) Put(key string, src *os.Root) (*Manifest, error) {
	tmp, err := os.MkdirTemp(c.dir, "tmp-")
	if err != nil {
		return nil, fmt.Errorf("build cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	m, err := CopyTree(src, filepath.Join(tmp, "files"), c.maxEntry)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("build cache: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "manifest.json"), data, 0o600); err != nil {
		return nil, fmt.Errorf("build cache: %w", err)
	}
	dst := c.entryDir(key)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return nil, fmt.Errorf("build cache: %w", err)
	}
	// Another compile of the same program may have won the race: both
	// entries hold the same artefact, the first stays.
	if err := os.Rename(tmp, dst); err != nil && !errors.Is(err, fs.ErrExist) && !errors.Is(err, unix.ENOTEMPTY) {
		return nil, fmt.Errorf("build cache: %w", err)
	}
	c.evict()
	return m, nil
}

// evict removes the least recently used entries until the cache holds at
// most maxBytes.
func (c *Cache) evict() {
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
			var m Manifest
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

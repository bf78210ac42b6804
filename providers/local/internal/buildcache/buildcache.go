//go:build linux

// Package buildcache holds the build cache: compiled artefacts on the
// host, keyed by what built them, each checked against its manifest
// whenever it is used.
package buildcache

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
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
//
// Its size is kept in memory (index.go): the bytes of every entry's files
// and manifest, and of the copies under way, never more than maxBytes. A
// put reserves its bytes before it copies anything, evicting the least
// recently used entries first, so neither a flood of new programs nor
// puts at the same time take the cache past its bound, and no put reads
// any manifest but its own. The index is built once, by Prepare, from the
// manifests on disk.
type Cache struct {
	dir      string // BuildCacheDir: 0700, owned by the server
	maxBytes int64  // the bound of the entries' and the copies' bytes
	maxEntry int64  // the largest artefact kept

	mu  sync.Mutex
	idx index
	// room is signalled when a put under way gives back its reservation.
	room *sync.Cond
	// manifestReads counts the manifests read from disk.
	manifestReads atomic.Int64
}

// New returns the cache in dir, which holds at most maxBytes, and no
// artefact larger than maxEntry. Prepare creates the directory and
// reads what it already holds.
func New(dir string, maxBytes, maxEntry int64) *Cache {
	c := &Cache{dir: dir, maxBytes: maxBytes, maxEntry: maxEntry, idx: newIndex()}
	c.room = sync.NewCond(&c.mu)
	return c
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

// Prepare creates the cache directory, private to the server, and builds
// the index from the entries it holds, evicting down to the bound.
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
	c.load()
	return nil
}

// entryDir is where the entry of key lives.
func (c *Cache) entryDir(key string) string {
	return filepath.Join(c.dir, "objects", key[:2], key)
}

// readManifest reads the manifest of the entry in dir, and its size on
// disk: its files' bytes and its own.
func (c *Cache) readManifest(dir string) (*Manifest, int64, error) {
	c.manifestReads.Add(1)
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, 0, err
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return &m, m.size() + int64(len(data)), nil
}

// Open returns the entry of key, or fs.ErrNotExist. Using an entry marks
// it recently used.
func (c *Cache) Open(key string) (*os.Root, *Manifest, error) {
	dir := c.entryDir(key)
	m, size, err := c.readManifest(dir)
	switch {
	case errors.Is(err, ErrCorrupt):
		c.Drop(key)
		return nil, nil, fs.ErrNotExist
	case errors.Is(err, fs.ErrNotExist):
		c.mu.Lock()
		c.idx.remove(key)
		c.mu.Unlock()
		return nil, nil, err
	case err != nil:
		return nil, nil, err
	}
	root, err := os.OpenRoot(filepath.Join(dir, "files"))
	if err != nil {
		return nil, nil, err
	}
	// The order of use outlives the server in the entries' times.
	now := time.Now()
	_ = os.Chtimes(dir, now, now)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.idx.touch(key) {
		// Put by another provider on the same directory.
		c.idx.add(key, size)
		c.evictLocked(key)
	}
	return root, m, nil
}

// Drop removes the entry of key.
func (c *Cache) Drop(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(key)
}

// Put copies the artefact in src (the compile step's output directory)
// into the entry of key, and returns its manifest. Its bytes are reserved
// before the copy, evicting entries as needed; a put waits while the
// copies under way leave no room for it.
func (c *Cache) Put(key string, src *os.Root) (*Manifest, error) {
	files, bound, err := measure(src, c.maxEntry)
	if err != nil {
		return nil, fmt.Errorf("the compiler's output cannot be kept: %w", err)
	}
	need := files + bound
	if err := c.reserve(need); err != nil {
		return nil, err
	}
	m, size, err := c.put(key, src, files, bound)
	if err == nil && size == 0 {
		// Another put made the entry first: it is counted, unless that
		// put was another provider's on the same directory.
		c.mu.Lock()
		known := c.idx.touch(key)
		c.mu.Unlock()
		if !known {
			if _, size, err = c.readManifest(c.entryDir(key)); err != nil {
				size, err = 0, nil
			}
		}
	}
	c.commit(key, need, size, err)
	return m, err
}

// put copies src into the entry of key: files bytes at most, and a
// manifest of at most bound bytes. It returns the size of the entry it
// made, 0 when an entry of key was there first. Nothing of the copy is
// left when it returns.
func (c *Cache) put(key string, src *os.Root, files, bound int64) (*Manifest, int64, error) {
	tmp, err := os.MkdirTemp(c.dir, "tmp-")
	if err != nil {
		return nil, 0, fmt.Errorf("build cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	m, err := CopyTree(src, filepath.Join(tmp, "files"), files)
	if err != nil {
		return nil, 0, err
	}
	data, err := json.Marshal(m)
	if err != nil {
		return nil, 0, fmt.Errorf("build cache: %w", err)
	}
	if int64(len(data)) > bound {
		return nil, 0, fmt.Errorf("build cache: a manifest of %d bytes, more than the %d reserved", len(data), bound)
	}
	if err := os.WriteFile(filepath.Join(tmp, "manifest.json"), data, 0o600); err != nil {
		return nil, 0, fmt.Errorf("build cache: %w", err)
	}
	dst := c.entryDir(key)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return nil, 0, fmt.Errorf("build cache: %w", err)
	}
	// Another compile of the same program may have won the race: both
	// entries hold the same artefact, the first stays.
	err = os.Rename(tmp, dst)
	switch {
	case err == nil:
		return m, m.size() + int64(len(data)), nil
	case errors.Is(err, fs.ErrExist) || errors.Is(err, unix.ENOTEMPTY):
		if err := os.RemoveAll(tmp); err != nil {
			return nil, 0, fmt.Errorf("build cache: %w", err)
		}
		return m, 0, nil
	}
	return nil, 0, fmt.Errorf("build cache: %w", err)
}

// measure sums the bytes of the regular files under src, refusing what
// CopyTree refuses and more than maxBytes, and bounds the size of their
// manifest.
func measure(src *os.Root, maxBytes int64) (files, manifest int64, err error) {
	manifest = 32
	n := 0
	err = fs.WalkDir(src.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir():
			return nil
		case !d.Type().IsRegular():
			return fmt.Errorf("%s is not a regular file", p)
		}
		if n++; n > maxArtefactFiles {
			return fmt.Errorf("more than %d files", maxArtefactFiles)
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if files += fi.Size(); files > maxBytes {
			return fmt.Errorf("more than %d bytes", maxBytes)
		}
		// A path escapes to at most 6 bytes a byte; the rest of a file's
		// record (keys, mode, size, 64 hex digits) to less than 160.
		manifest += 6*int64(len(p)) + 160
		return nil
	})
	return files, manifest, err
}

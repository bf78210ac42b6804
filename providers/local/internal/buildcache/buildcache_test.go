//go:build linux

package buildcache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// testKey is the key of entry i: 64 hex digits, as the provider's.
func testKey(i int) string { return fmt.Sprintf("%064x", i) }

// artefact makes a compile step's output directory holding n bytes in
// two files (one in a subdirectory), different for each i.
func artefact(t testing.TB, i, n int) *os.Root {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	tag := fmt.Sprintf("artefact %d\n", i)
	body := strings.Repeat("x", max(n-len(tag)-1, 0))
	if err := os.WriteFile(filepath.Join(dir, "main"), []byte(tag), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "lib", "data"), []byte(body+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return root
}

// diskBytes is what the cache holds on disk: the bytes of every regular
// file of its entries and of the copies under way.
func diskBytes(t testing.TB, c *Cache) int64 {
	t.Helper()
	n, err := walkBytes(c.Dir())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// walkBytes sums the regular files under dir; what goes while it walks
// (a copy renamed or removed) is not counted.
func walkBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			n += fi.Size()
		}
		return nil
	})
	return n, err
}

func newTestCache(t testing.TB, dir string, maxBytes, maxEntry int64) *Cache {
	t.Helper()
	c := New(dir, maxBytes, maxEntry)
	if err := c.Prepare(); err != nil {
		t.Fatal(err)
	}
	return c
}

// installs checks that the entry of key is there and installs.
func installs(t *testing.T, c *Cache, key string) {
	t.Helper()
	root, m, err := c.Open(key)
	if err != nil {
		t.Fatalf("Open(%s): %v", key[60:], err)
	}
	defer root.Close()
	dst, err := os.OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if err := Install(root, m, dst, "out", func(string) error { return nil }); err != nil {
		t.Fatalf("Install(%s): %v", key[60:], err)
	}
}

// Unique programs, one after another: after every put the cache holds at
// most its bound on disk, manifests included, and the entry just put is
// there.
func TestPutsKeepTheBound(t *testing.T) {
	const maxBytes = 16 << 10
	c := newTestCache(t, t.TempDir(), maxBytes, maxBytes)
	for i := range 60 {
		key := testKey(i)
		if _, err := c.Put(key, artefact(t, i, 1000+37*i)); err != nil {
			t.Fatalf("Put %d: %v", i, err)
		}
		if n := diskBytes(t, c); n > maxBytes {
			t.Fatalf("after put %d the cache holds %d bytes on disk, more than its %d", i, n, maxBytes)
		}
		installs(t, c, key)
	}
}

// Puts at the same time cannot take the cache past its bound together:
// each reserves its bytes before it copies. While they run, the disk is
// measured over and over with the cache's lock held (no entry comes or
// goes meanwhile; copies under way grow within their reservations, and
// the walk, which visits objects/ before the copies' tmp-* directories,
// counts a copy renamed into place at most once). At the end the disk
// holds what the index counts.
func TestConcurrentPutsKeepTheBound(t *testing.T) {
	const maxBytes = 24 << 10
	c := newTestCache(t, t.TempDir(), maxBytes, 8<<10)
	const workers, each = 8, 25
	srcs := make([]*os.Root, workers*each)
	for i := range srcs {
		srcs[i] = artefact(t, i, 500+(i%7)*1000)
	}
	done := make(chan struct{})
	measured := make(chan int64, 1)
	go func() {
		var most int64
		defer func() { measured <- most }()
		for {
			select {
			case <-done:
				return
			default:
			}
			c.mu.Lock()
			n, err := walkBytes(c.Dir())
			c.mu.Unlock()
			if err == nil {
				most = max(most, n)
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, len(srcs))
	for w := range workers {
		wg.Go(func() {
			for j := range each {
				i := w*each + j
				if _, err := c.Put(testKey(i), srcs[i]); err != nil {
					errs <- fmt.Errorf("put %d: %w", i, err)
				}
			}
		})
	}
	wg.Wait()
	close(done)
	if most := <-measured; most > maxBytes {
		t.Errorf("while the puts ran, the cache held %d bytes on disk, more than its %d", most, maxBytes)
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	n := diskBytes(t, c)
	if n > maxBytes {
		t.Errorf("the cache holds %d bytes on disk, more than its %d", n, maxBytes)
	}
	c.mu.Lock()
	total, reserved := c.idx.total, c.idx.reserved
	c.mu.Unlock()
	if total != n || reserved != 0 {
		t.Errorf("the index counts %d bytes and %d reserved, the disk holds %d", total, reserved, n)
	}
}

// A put reads no manifest: the index is read from disk once, when the
// cache is prepared (as when a server starts on an existing cache), and
// kept in memory.
func TestPutReadsNoManifest(t *testing.T) {
	const maxBytes = 64 << 10
	dir := t.TempDir()
	first := newTestCache(t, dir, maxBytes, maxBytes)
	const entries = 40
	for i := range entries {
		if _, err := first.Put(testKey(i), artefact(t, i, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	if n := first.manifestReads.Load(); n != 0 {
		t.Fatalf("%d puts into a new cache read %d manifests, want none", entries, n)
	}
	kept := diskBytes(t, first)

	// A new server on the same directory reads each manifest once.
	c := newTestCache(t, dir, maxBytes, maxBytes)
	if n := c.manifestReads.Load(); n != entries {
		t.Fatalf("preparing a cache of %d entries read %d manifests, want %d", entries, n, entries)
	}
	c.mu.Lock()
	total := c.idx.total
	c.mu.Unlock()
	if total != kept {
		t.Fatalf("the rebuilt index counts %d bytes, the disk holds %d", total, kept)
	}
	// Puts that evict read nothing more.
	for i := entries; i < 3*entries; i++ {
		if _, err := c.Put(testKey(i), artefact(t, i, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.manifestReads.Load(); n != entries {
		t.Errorf("%d more puts, which evicted, read %d manifests, want none", 2*entries, n-entries)
	}
	if n := diskBytes(t, c); n > maxBytes {
		t.Errorf("the cache holds %d bytes on disk, more than its %d", n, maxBytes)
	}
}

// A cache prepared over more than its bound (a smaller BuildCacheMB)
// evicts down to it.
func TestPrepareEvictsToTheBound(t *testing.T) {
	dir := t.TempDir()
	big := newTestCache(t, dir, 64<<10, 8<<10)
	for i := range 30 {
		if _, err := big.Put(testKey(i), artefact(t, i, 1500)); err != nil {
			t.Fatal(err)
		}
	}
	const maxBytes = 10 << 10
	small := newTestCache(t, dir, maxBytes, 8<<10)
	if n := diskBytes(t, small); n > maxBytes {
		t.Errorf("a cache prepared with a bound of %d holds %d bytes", maxBytes, n)
	}
}

// The least recently used entry goes first: one that was opened stays
// while the others put before it go.
func TestEvictsLeastRecentlyUsed(t *testing.T) {
	const size = 1000
	// Room for four entries (with their manifests) and a reservation.
	c := newTestCache(t, t.TempDir(), 6*size, 2*size)
	for i := range 4 {
		if _, err := c.Put(testKey(i), artefact(t, i, size)); err != nil {
			t.Fatal(err)
		}
	}
	installs(t, c, testKey(0))
	for i := 4; i < 7; i++ {
		if _, err := c.Put(testKey(i), artefact(t, i, size)); err != nil {
			t.Fatal(err)
		}
	}
	installs(t, c, testKey(0))
	if _, _, err := c.Open(testKey(1)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the least recently used entry is still there: %v", err)
	}
}

// An artefact larger than the cache is refused, and leaves nothing.
func TestPutLargerThanTheCache(t *testing.T) {
	const maxBytes = 4 << 10
	c := newTestCache(t, t.TempDir(), maxBytes, 1<<20)
	if _, err := c.Put(testKey(1), artefact(t, 1, 2*maxBytes)); err == nil {
		t.Fatal("an artefact larger than the cache was kept")
	}
	if n := diskBytes(t, c); n != 0 {
		t.Errorf("a refused put left %d bytes", n)
	}
}

// BenchmarkPut puts unique artefacts into a full cache of n entries: its
// cost does not grow with n.
func BenchmarkPut(b *testing.B) {
	for _, n := range []int{100, 1000, 4000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			const size = 512
			src := artefact(b, 0, size)
			c := newTestCache(b, b.TempDir(), int64(n)*(size+400), 1<<20)
			for i := range n {
				if _, err := c.Put(testKey(i), src); err != nil {
					b.Fatal(err)
				}
			}
			i := n
			for b.Loop() {
				i++
				if _, err := c.Put(testKey(i), src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

//go:build linux

package buildcache

import (
	"container/list"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// index is the cache's accounting, in memory: its entries in order of
// use, their bytes, and the bytes reserved by the puts under way. The
// Cache's mutex guards it.
type index struct {
	entries  map[string]*list.Element // of *indexed
	lru      *list.List               // least recently used at the front
	total    int64                    // the entries' bytes
	reserved int64                    // the puts' under way
}

type indexed struct {
	key  string
	size int64
}

func newIndex() index {
	return index{entries: map[string]*list.Element{}, lru: list.New()}
}

// touch marks key recently used, and reports whether it is indexed.
func (x *index) touch(key string) bool {
	e, ok := x.entries[key]
	if ok {
		x.lru.MoveToBack(e)
	}
	return ok
}

// add indexes key as the most recently used entry.
func (x *index) add(key string, size int64) {
	if x.touch(key) {
		return
	}
	x.entries[key] = x.lru.PushBack(&indexed{key, size})
	x.total += size
}

// remove forgets key.
func (x *index) remove(key string) {
	if e, ok := x.entries[key]; ok {
		x.lru.Remove(e)
		delete(x.entries, key)
		x.total -= e.Value.(*indexed).size
	}
}

// load builds the index from the entries on disk, oldest use first (their
// times, which Open sets), and evicts down to the bound. An entry whose
// manifest cannot be read is removed.
func (c *Cache) load() {
	type found struct {
		key  string
		used time.Time
		size int64
	}
	var all []found
	objects := filepath.Join(c.dir, "objects")
	shards, _ := os.ReadDir(objects)
	for _, sh := range shards {
		keys, _ := os.ReadDir(filepath.Join(objects, sh.Name()))
		for _, k := range keys {
			key := k.Name()
			dir := filepath.Join(objects, sh.Name(), key)
			fi, err := os.Lstat(dir)
			if err != nil || !fi.IsDir() || len(key) < 2 || key[:2] != sh.Name() {
				continue
			}
			_, size, err := c.readManifest(dir)
			if err != nil {
				_ = os.RemoveAll(dir)
				continue
			}
			all = append(all, found{key, fi.ModTime(), size})
		}
	}
	slices.SortStableFunc(all, func(a, b found) int { return a.used.Compare(b.used) })
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range all {
		c.idx.add(f.key, f.size)
	}
	c.evictLocked("")
}

// reserve takes need bytes for a put under way, evicting the least
// recently used entries until they fit, and waiting while the other puts'
// reservations leave no room.
func (c *Cache) reserve(need int64) error {
	if need > c.maxBytes {
		return fmt.Errorf("build cache: an artefact of %d bytes does not fit in the cache's %d", need, c.maxBytes)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for c.idx.total+c.idx.reserved+need > c.maxBytes && c.evictOneLocked("") {
		}
		switch {
		case c.idx.total+c.idx.reserved+need <= c.maxBytes:
			c.idx.reserved += need
			return nil
		case c.idx.reserved == 0:
			return fmt.Errorf("build cache: no room for an artefact of %d bytes: entries that cannot be removed hold %d of %d", need, c.idx.total, c.maxBytes)
		}
		// The puts under way hold the room: they give it back.
		c.room.Wait()
	}
}

// commit gives back a put's reservation of need bytes, once nothing of
// its copy is left but the entry, and indexes that entry of size bytes
// (0: not to be counted).
func (c *Cache) commit(key string, need, size int64, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.idx.reserved -= need
	if err == nil && size > 0 {
		c.idx.add(key, size)
		// Within the reservation, unless another provider made it.
		c.evictLocked(key)
	}
	c.room.Broadcast()
}

// evictLocked evicts the least recently used entries, never keep, until
// the entries and reservations fit the bound.
func (c *Cache) evictLocked(keep string) {
	for c.idx.total+c.idx.reserved > c.maxBytes && c.evictOneLocked(keep) {
	}
}

// evictOneLocked removes the least recently used entry other than keep
// that it can, and reports whether there was one.
func (c *Cache) evictOneLocked(keep string) bool {
	for e := c.idx.lru.Front(); e != nil; e = e.Next() {
		if key := e.Value.(*indexed).key; key != keep && c.removeLocked(key) {
			return true
		}
	}
	return false
}

// removeLocked removes the entry of key from the disk, then from the
// index, so that the index never counts less than the disk holds, and
// reports whether it did. What cannot be removed stays counted.
func (c *Cache) removeLocked(key string) bool {
	if err := os.RemoveAll(c.entryDir(key)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return false
	}
	c.idx.remove(key)
	return true
}

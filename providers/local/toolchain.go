//go:build linux

package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local/internal/buildcache"
	"golang.org/x/sys/unix"
)

// toolchains is the provider's state for compiled languages and templates:
// the build cache, the warmed toolchain caches, toolchain identities, the
// templates, and the host directories staged for sandboxes.
type toolchains struct {
	p         *Provider
	cache     *buildcache.Cache
	templates map[string]*fsTemplate

	prepareOnce sync.Once
	prepareErr  error

	ctx     context.Context // ends at Close: stops a warm under way
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	stopped bool

	mu     sync.Mutex
	warms  map[string]*warmState // warm key → the warm under way
	ids    map[string]string     // runtime|template → toolchain identity
	staged map[string]string     // host dir → where sandboxes bind it from
}

// warmState is one warm of a toolchain cache; done closes when it ends.
type warmState struct {
	done chan struct{}
	dir  string
	err  error
}

// warmTimeout bounds the one compile that fills a toolchain's cache.
const warmTimeout = 10 * time.Minute

func newToolchains(p *Provider) (*toolchains, error) {
	tc := &toolchains{
		p: p,
		cache: buildcache.New(p.cfg.BuildCacheDir,
			int64(p.cfg.BuildCacheMB)<<20, min(int64(p.cfg.BuildCacheMB)<<20, 512<<20)),
		warms: map[string]*warmState{}, ids: map[string]string{}, staged: map[string]string{},
	}
	tc.ctx, tc.cancel = context.WithCancel(context.Background())
	if err := tc.loadTemplates(); err != nil {
		tc.cancel()
		return nil, err
	}
	return tc, nil
}

// prepare creates the build cache directory on first use.
func (tc *toolchains) prepare() error {
	tc.prepareOnce.Do(func() {
		if err := tc.cache.Prepare(); err != nil {
			tc.prepareErr = fmt.Errorf("local: %w", err)
		}
	})
	return tc.prepareErr
}

// key is the build cache key of a program: its language, the toolchain's
// identity, the compile step (argv and environment), the template, the
// file name and the source.
func (tc *toolchains) key(ctx context.Context, rt *Runtime, t *fsTemplate, code string) (string, error) {
	if err := tc.prepare(); err != nil {
		return "", err
	}
	id, err := tc.toolchainID(ctx, rt, t)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	field := func(s string) {
		fmt.Fprintf(h, "%d:%s\x00", len(s), s)
	}
	field("computemw-build-v1")
	field(rt.Name)
	if rt.Release != "" {
		field("release=" + rt.Release)
	}
	field(id)
	field(strings.Join(rt.Compile, "\x00"))
	for _, k := range slices.Sorted(maps.Keys(rt.Env)) {
		field(k + "=" + rt.Env[k])
	}
	field(rt.fileName())
	if t != nil {
		field(t.name)
	}
	field(code)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// toolchainID identifies the toolchain that compiles rt's programs: on the
// host, the output of rt.Version and the compiler binary's path, size and
// modification time; in a template, the template and its compiler binary.
func (tc *toolchains) toolchainID(ctx context.Context, rt *Runtime, t *fsTemplate) (string, error) {
	// Each release of a language is a toolchain of its own.
	memo := rt.Name + "|" + rt.Release
	if t != nil {
		memo += "|" + t.name
	}
	tc.mu.Lock()
	id, ok := tc.ids[memo]
	tc.mu.Unlock()
	if ok {
		return id, nil
	}
	var err error
	if t != nil {
		id, err = t.toolID(rt)
	} else {
		id, err = hostToolID(ctx, rt)
	}
	if err != nil {
		return "", err
	}
	tc.mu.Lock()
	tc.ids[memo] = id
	tc.mu.Unlock()
	return id, nil
}

// hostToolID runs rt.Version on the host (a fixed environment, bounded in
// time) and describes the compiler binary.
func hostToolID(ctx context.Context, rt *Runtime) (string, error) {
	vis := func(p string) bool { return true }
	tool, err := lookPathIn(rt.tool(), vis)
	if err != nil {
		return "", fmt.Errorf("local: %s: %w", rt.Name, err)
	}
	id := statID(tool)
	if len(rt.Version) > 0 {
		v, err := hostVersion(ctx, rt)
		if err != nil {
			return "", fmt.Errorf("local: %s toolchain version: %w", rt.Name, err)
		}
		id += "\n" + v
	}
	return id, nil
}

// hostVersion runs rt.Version on the host and returns its output.
func hostVersion(ctx context.Context, rt *Runtime) (string, error) {
	bin, err := lookPathIn(rt.Version[0], func(string) bool { return true })
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, rt.Version[1:]...)
	cmd.Env = []string{"PATH=" + sandboxPath, "HOME=/nonexistent", "LANG=C.UTF-8", "GOTOOLCHAIN=local", "TMPDIR=" + os.TempDir()}
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s: %w: %s", strings.Join(rt.Version, " "), err, truncateText(string(out), 512))
	}
	return strings.TrimSpace(string(out)), nil
}

// statID describes a file by path, size, modification time and inode.
func statID(path string) string {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		real = path
	}
	var st unix.Stat_t
	if err := unix.Stat(real, &st); err != nil {
		return real
	}
	return fmt.Sprintf("%s size=%d mtime=%d.%d ino=%d", real, st.Size, st.Mtim.Sec, st.Mtim.Nsec, st.Ino)
}

// warm returns the directory of rt's warmed toolchain cache, filling it
// first when needed: rt.Warm, a program of the provider's, is compiled
// once in a sandbox of the provider's own, and the cache it leaves is
// kept where no sandbox reaches it. The warm runs apart from the request
// that started it, so a client that leaves does not waste it; callers
// wait for it, or for their ctx. Close stops it.
func (tc *toolchains) warm(ctx context.Context, p *Provider, rt *Runtime) (string, error) {
	id, err := tc.toolchainID(ctx, rt, nil)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256([]byte(strings.Join([]string{"warm-v1", rt.Name, id, strings.Join(rt.Compile, "\x00"), fmt.Sprint(rt.Env), rt.Warm}, "\x00")))
	dir := filepath.Join(tc.cache.Dir(), "warm", hex.EncodeToString(h[:16]))
	if _, err := os.Stat(filepath.Join(dir, "ready")); err == nil {
		return filepath.Join(dir, "cache"), nil
	}
	tc.mu.Lock()
	st, running := tc.warms[dir]
	if !running {
		if tc.stopped {
			tc.mu.Unlock()
			return "", errors.New("local: the provider is closed")
		}
		st = &warmState{done: make(chan struct{})}
		tc.warms[dir] = st
		tc.wg.Add(1)
		go func() {
			defer tc.wg.Done()
			wctx, cancel := context.WithTimeout(tc.ctx, warmTimeout)
			defer cancel()
			st.err = tc.fillWarm(wctx, p, rt, dir)
			if st.err == nil {
				st.dir = filepath.Join(dir, "cache")
			}
			tc.mu.Lock()
			delete(tc.warms, dir)
			tc.mu.Unlock()
			close(st.done)
		}()
	}
	tc.mu.Unlock()
	select {
	case <-st.done:
		return st.dir, st.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// stop ends a warm under way and waits for it.
func (tc *toolchains) stop() {
	tc.mu.Lock()
	tc.stopped = true
	tc.mu.Unlock()
	tc.cancel()
	tc.wg.Wait()
}

// fillWarm compiles rt.Warm in a new sandbox of the provider's and keeps
// the cache it leaves in dir.
func (tc *toolchains) fillWarm(ctx context.Context, p *Provider, rt *Runtime, dir string) error {
	created, err := p.Create(ctx, computemw.CreateOptions{})
	if err != nil {
		return err
	}
	sb := created.(*sandbox)
	defer func() { _ = sb.Destroy(context.WithoutCancel(ctx)) }()
	// The provider's own one-time job, on a program of the provider's
	// with no client input, may use every core and the compile step's
	// memory, whatever a sandbox's cap.
	sb.lim.CPUCores = float64(runtime.NumCPU())
	sb.lim.MemoryBytes = int64(p.cfg.CompileMemoryMB) << 20
	bd, err := sb.newBuildDir(rt, rt.Warm, "")
	if err != nil {
		return err
	}
	defer bd.remove()
	res, err := sb.compileIn(ctx, rt, bd, warmTimeout, 0)
	if err == nil && res.ExitCode != 0 {
		err = fmt.Errorf("exit code %d: %s", res.ExitCode, truncateText(res.CompileOutput, 2048))
	}
	if err != nil {
		return fmt.Errorf("local: warming the %s toolchain's cache: %w", rt.Name, err)
	}
	src, err := os.OpenRoot(filepath.Join(bd.dir, "cache"))
	if err != nil {
		return fmt.Errorf("local: %w", err)
	}
	defer src.Close()
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return fmt.Errorf("local: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "tmp-")
	if err != nil {
		return fmt.Errorf("local: %w", err)
	}
	defer os.RemoveAll(tmp)
	if _, err := buildcache.CopyTree(src, filepath.Join(tmp, "cache"), 4<<30); err != nil {
		return fmt.Errorf("local: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "ready"), nil, 0o600); err != nil {
		return fmt.Errorf("local: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, fs.ErrExist) && !errors.Is(err, unix.ENOTEMPTY) {
		return fmt.Errorf("local: %w", err)
	}
	return nil
}

// stage returns where sandboxes bind the host directory src from. A root
// server's sandboxes run as other uids, which may not be allowed to
// traverse src's parents (a toolchain under /root): src is then bind
// mounted, read-only, into the instance directory, which they can reach.
// The mounts go with the instance directory (cleanupInstance, reclaim).
func (tc *toolchains) stage(src string) (string, error) {
	if !tc.p.iso.otherUIDs() {
		return src, nil
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if dst, ok := tc.staged[src]; ok {
		return dst, nil
	}
	h := sha256.Sum256([]byte(src))
	dst := filepath.Join(tc.p.dir, "stage", hex.EncodeToString(h[:8]))
	if err := os.MkdirAll(dst, 0o711); err != nil {
		return "", fmt.Errorf("local: stage %s: %w", src, err)
	}
	_ = os.Chmod(filepath.Dir(dst), 0o711)
	if err := unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		_ = os.Remove(dst)
		return "", fmt.Errorf("local: stage %s: %w", src, err)
	}
	if err := unix.Mount("", dst, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		_ = unix.Unmount(dst, unix.MNT_DETACH)
		_ = os.Remove(dst)
		return "", fmt.Errorf("local: stage %s read-only: %w", src, err)
	}
	tc.staged[src] = dst
	return dst, nil
}

// hostDirBinds returns a profile change that binds rt.HostDirs read-only,
// or nil when it has none (or a directory cannot be staged: the step then
// fails to find its tool, which the runtime table reported).
func (s *sandbox) hostDirBinds(rt *Runtime) func(*profile) {
	if len(rt.HostDirs) == 0 {
		return nil
	}
	var extra []string
	for _, d := range rt.HostDirs {
		src, err := s.p.tc.stage(d)
		if err != nil {
			s.p.log.Warn("computemw/local: a runtime's host directory cannot be bound", "language", rt.Name, "dir", d, "error", err)
			continue
		}
		extra = append(extra, "--ro-bind", src, d)
	}
	return func(pr *profile) { pr.binds = append(slices.Clone(pr.binds), extra...) }
}

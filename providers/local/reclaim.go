//go:build linux

package local

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/computemw/kit/providers/local/internal/cgroups"
)

// The prefixes of the names newID makes for instances and sandboxes.
const (
	instancePrefix = "i"
	sandboxPrefix  = "sb"
)

// instanceName and sandboxName are exactly the names the provider makes.
// Reclaim acts on nothing else: a planted ".lock" or "..lock" would
// otherwise aim it at the cgroup parent (every live sandbox) or at
// BaseDir's parent.
var (
	instanceName = regexp.MustCompile(`^` + instancePrefix + `-[0-9a-f]{16}$`)
	sandboxName  = regexp.MustCompile(`^` + sandboxPrefix + `-[0-9a-f]{16}$`)
)

// reclaimOrphans removes the workspaces and cgroups of instances whose
// server died without cleaning up: their lock file is no longer held. It
// only acts on lock files of the provider's own name pattern that are
// regular files of this server's uid, and never follows a symlink.
func (p *Provider) reclaimOrphans() {
	entries, err := os.ReadDir(p.cfg.BaseDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		inst, ok := strings.CutSuffix(e.Name(), ".lock")
		if !ok || !instanceName.MatchString(inst) {
			continue
		}
		lockPath := filepath.Join(p.cfg.BaseDir, e.Name())
		fi, err := os.Lstat(lockPath)
		if err != nil || !fi.Mode().IsRegular() || ownerOf(fi) != os.Geteuid() {
			p.log.Warn("computemw/local: ignoring a lock file the provider did not make", "path", lockPath)
			continue
		}
		f, err := os.OpenFile(lockPath, os.O_RDWR|syscall.O_NOFOLLOW, 0)
		if err != nil {
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
			f.Close() // alive
			continue
		}
		p.reclaimInstance(inst)
		_ = os.Remove(lockPath)
		f.Close()
	}
}

// reclaimInstance removes what a dead instance left: the processes and
// cgroups of its sandboxes, and its directory.
func (p *Provider) reclaimInstance(inst string) {
	// A crash can leave a bwrap monitor that never had its sandbox
	// process placed in a cgroup (one that was starting): it still holds
	// descriptors of the instance's files.
	killHolders(filepath.Join(p.cfg.BaseDir, inst))
	n := 0
	if p.cg != nil {
		base := filepath.Join("/", p.cfg.CgroupParent, inst)
		for _, dir := range p.cg.Paths(base) {
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if !e.IsDir() || !sandboxName.MatchString(e.Name()) {
					continue
				}
				rel := filepath.Join(base, e.Name())
				if g, err := p.cg.Create(rel, cgroups.Limits{}); err == nil {
					if g.Remove() == nil {
						n++
					}
				}
			}
			_ = os.Remove(dir)
		}
	}
	dir := filepath.Join(p.cfg.BaseDir, inst)
	fi, err := os.Lstat(dir)
	switch {
	case err != nil:
	case fi.Mode()&fs.ModeSymlink != 0 || !fi.IsDir() || ownerOf(fi) != os.Geteuid():
		// Not what the provider makes: remove the name, never follow it.
		_ = os.Remove(dir)
	default:
		unmountUnder(dir)
		_ = removeAll(dir)
	}
	p.log.Info("computemw/local: reclaimed an orphaned instance", "instance", inst, "cgroups", n)
}

// killHolders kills every process but this one that holds a descriptor of
// a file below dir, the directory of an instance whose server is gone:
// only that server's sandboxes (their bwrap monitors and inits) do.
func killHolders(dir string) {
	prefix := dir + "/"
	self := os.Getpid()
	procs, _ := os.ReadDir("/proc")
	for _, e := range procs {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		fds, _ := os.ReadDir("/proc/" + e.Name() + "/fd")
		for _, fd := range fds {
			target, err := os.Readlink("/proc/" + e.Name() + "/fd/" + fd.Name())
			if err == nil && strings.HasPrefix(target, prefix) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				break
			}
		}
	}
}

// removeAll removes a tree even where a sandbox left directories without
// write or search permission. Symlinks in it are removed, never followed.
func removeAll(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if d != nil && d.IsDir() {
			_ = os.Chmod(path, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

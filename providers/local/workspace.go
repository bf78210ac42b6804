//go:build linux

package local

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"

	"github.com/computemw/kit/providers/local/internal/cgroups"
	"golang.org/x/sys/unix"
)

// A workspace is a directory of the host that the sandbox sees as
// /workspace. When the server runs as root, each workspace is its own
// tmpfs of Config.WorkspaceSizeMB, so a sandbox that writes without end
// fills its own workspace (ENOSPC, a RESOURCE_ERROR) instead of the host's
// disk; the pages count against the memory of whoever wrote them. Without
// the privilege to mount, workspaces are plain directories and only the
// file-size rlimit bounds what one file can take; the provider says so at
// start.

// tmpfsOptions are the mount options of a workspace tmpfs owned by
// uid:gid.
func (p *Provider) tmpfsOptions(uid, gid int) string {
	// One inode per 4 KiB of space, as for a small disk.
	return fmt.Sprintf("size=%dm,nr_inodes=%d,mode=0700,uid=%d,gid=%d", p.cfg.WorkspaceSizeMB, p.cfg.WorkspaceSizeMB*256, uid, gid)
}

// mountWorkspace makes dir a size-capped tmpfs owned by uid:gid, in the
// server's mount namespace (a compile's build directory).
func (p *Provider) mountWorkspace(dir string, uid, gid int) error {
	return unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, p.tmpfsOptions(uid, gid))
}

// probeTmpfsWorkspaces reports whether workspaces can be tmpfs mounts,
// each in a mount namespace of its own (mountns.go), and starts the
// threads that make them.
func (p *Provider) probeTmpfsWorkspaces() error {
	if !p.rootUser {
		return fmt.Errorf("mounting needs root")
	}
	// The instance directory becomes a mount of its own that shares
	// what is mounted below it (a compile's build directory, a staged
	// toolchain) with the workspaces' namespaces, copies of the server's
	// made earlier, and their unmounts.
	if err := unix.Mount(p.dir, p.dir, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind the instance directory: %w", err)
	}
	if err := unix.Mount("", p.dir, "", unix.MS_SHARED, ""); err != nil {
		_ = unix.Unmount(p.dir, unix.MNT_DETACH)
		return fmt.Errorf("share the instance directory's mounts: %w", err)
	}
	t, err := newNSThreads(max(2, runtime.NumCPU()))
	if err != nil {
		_ = unix.Unmount(p.dir, unix.MNT_DETACH)
		return err
	}
	fail := func(err error) error {
		t.close()
		_ = unix.Unmount(p.dir, unix.MNT_DETACH)
		return err
	}
	dir, err := os.MkdirTemp(p.dir, "probe-")
	if err != nil {
		return fail(err)
	}
	defer os.Remove(dir)
	ns, ws, err := t.workspace(dir, p.tmpfsOptions(os.Geteuid(), os.Getegid()))
	if err != nil {
		return fail(err)
	}
	ns.Close()
	ws.Close()
	p.threads = t
	p.stageEtc()
	p.probeJoin()
	return nil
}

// stageEtc makes the namespace the workspaces' are copied from, with the
// host's /etc entries bound in the generated /etc directory (makeBase), so
// that a sandbox binds its /etc in one mount. Where it cannot, each entry
// is bound on its own, as before.
func (p *Provider) stageEtc() {
	// /sys stays where a system directory is in it.
	dropSys := !slices.ContainsFunc(p.cfg.SystemDirs, func(d string) bool {
		return d == "/sys" || strings.HasPrefix(d, "/sys/")
	})
	if err := p.threads.makeBase(p.etcDir, etcFiles, dropSys); err != nil {
		p.log.Warn("computemw/local: the host's /etc entries are bound one by one", "reason", err)
		return
	}
	f, err := openPath(p.etcDir)
	if err != nil {
		p.log.Warn("computemw/local: the host's /etc entries are bound one by one", "reason", err)
		return
	}
	p.etcStage = f
}

// unmountUnder detaches every mount at or below dir, deepest first (the
// workspaces of a provider, or of an orphaned instance).
func unmountUnder(dir string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			points = append(points, mp)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(points)))
	for _, mp := range points {
		_ = unix.Unmount(filepath.Clean(mp), unix.MNT_DETACH)
	}
}

// unescapeMount decodes the octal escapes (\040 for a space) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &c); err == nil {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// probeJoin checks that a thread of the server can join a sandbox's
// cgroup and leave it again; where it cannot (a server in a group it may
// not write to), each sandbox's first process is moved into its group
// once started, as on cgroup v2.
func (p *Provider) probeJoin() {
	if p.cg == nil || p.threads == nil {
		return
	}
	g, err := p.cg.Create(p.cgroupRel(newID("probe")), cgroups.Limits{MemoryBytes: 64 << 20, Pids: 16})
	if err != nil {
		return
	}
	defer func() { _ = g.Remove() }()
	j, ok := g.(cgroups.Joiner)
	if !ok {
		return
	}
	joined, err := p.threads.start(nil, j, func() error { return nil })
	if err == nil && !joined {
		err = errors.New("a thread could not join a sandbox's cgroup and leave it")
	}
	if err != nil {
		p.log.Warn("computemw/local: sandboxes' first processes are moved into their cgroups once started", "reason", err)
		return
	}
	p.joinCgroups = true
}

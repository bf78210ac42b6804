//go:build linux

package local

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

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

// mountWorkspace makes dir a size-capped tmpfs owned by uid:gid.
func (p *Provider) mountWorkspace(dir string, uid, gid int) error {
	return unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, p.tmpfsOptions(uid, gid))
}

// probeTmpfsWorkspaces reports whether workspaces can be tmpfs mounts.
func (p *Provider) probeTmpfsWorkspaces() error {
	if !p.rootUser {
		return fmt.Errorf("mounting needs root")
	}
	dir, err := os.MkdirTemp(p.dir, "probe-")
	if err != nil {
		return err
	}
	defer os.Remove(dir)
	if err := p.mountWorkspace(dir, os.Geteuid(), os.Getegid()); err != nil {
		return err
	}
	return unix.Unmount(dir, unix.MNT_DETACH)
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

//go:build linux

package local

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// bwrapIsolation runs every process under bubblewrap with the namespaces,
// mounts and filter of its profile (profile.go renders the options).
type bwrapIsolation struct {
	path       string // the bwrap binary
	root       bool   // sandboxes run as other host uids
	uid, gid   int    // Config.HostUID and HostGID: one uid for all, when set
	uidRange   UIDRange
	uids       *uidPool // a uid per sandbox (root, HostUID unset)
	systemDirs []string
	// prlimit: setup found that the server can set the rlimits of the
	// sandboxes' processes (rlimits.go: apply).
	prlimit bool
}

// newBwrap finds the bwrap binary.
func newBwrap(cfg *Config) (*bwrapIsolation, error) {
	path := cfg.BwrapPath
	if path == "" {
		path = "bwrap"
	}
	bw, err := exec.LookPath(path)
	if err != nil {
		return nil, ErrBwrapMissing
	}
	return &bwrapIsolation{
		path: bw, root: os.Geteuid() == 0,
		uid: cfg.HostUID, gid: cfg.HostGID, uidRange: cfg.UIDRange,
		systemDirs: cfg.SystemDirs,
	}, nil
}

// prepare builds the bwrap command of a profile. Its options reach bwrap
// through a sealed memory file (--args), not its command line, so that
// host paths in them do not show in the sandbox's /proc/1/cmdline, and so
// that writing them never waits for a reader. The descriptors sit at the
// numbers the options name (fdInfo ... fdEtc).
func (b *bwrapIsolation) prepare(pr *profile) (*launch, error) {
	l := &launch{}
	fail := func(err error) (*launch, error) {
		l.close()
		return nil, err
	}
	infoR, infoW, err := childPipe(false)
	if err != nil {
		return fail(fmt.Errorf("local: pipe: %w", err))
	}
	l.info = infoR
	l.child = append(l.child, infoW)
	blockW, blockR, err := childPipe(true)
	if err != nil {
		return fail(fmt.Errorf("local: pipe: %w", err))
	}
	l.block = blockW
	l.child = append(l.child, blockR)
	args, err := argsFile(pr.bwrapArgs())
	if err != nil {
		return fail(err)
	}
	l.child = append(l.child, args)
	var filter *os.File
	if pr.seccomp != nil {
		if filter, err = dataFile("computemw-seccomp", pr.seccomp); err != nil {
			return fail(err)
		}
		l.child = append(l.child, filter)
	}

	cmd := exec.Command(b.path, append([]string{"--args", fdString(fdArgs), "--"}, pr.argv...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Dir = "/"
	// fds 3 ... in the order of the fd constants; a nil entry is closed.
	held := pr.held
	if held == nil {
		held = make([]*os.File, numHeld)
	}
	cmd.ExtraFiles = append(append(append(held, infoW, blockR, args, filter, pr.workspace), pr.etcFiles()...), pr.init...)
	cmd.SysProcAttr = procAttr()
	cmd.WaitDelay = waitDelay
	if pr.hostUID != os.Geteuid() {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(pr.hostUID), Gid: uint32(pr.hostGID)}
	}
	l.cmd = cmd
	l.limits, l.uid, l.gid, l.ns = pr.limits, pr.hostUID, pr.hostGID, pr.mntns
	return l, nil
}

func (b *bwrapIsolation) inside(ws, rel string) string { return filepath.Join(workspaceDir, rel) }

// visible reports whether a host path is inside a directory bound into
// every sandbox.
func (b *bwrapIsolation) visible(path string) bool {
	for _, d := range b.systemDirs {
		if path == d || strings.HasPrefix(path, d+"/") {
			return true
		}
	}
	return false
}

func (b *bwrapIsolation) otherUIDs() bool { return b.root }

// setup checks that the sandboxes' uids can reach their workspaces, and,
// unless one HostUID serves all, prepares the uid leases (reclaiming those
// of crashed servers).
func (b *bwrapIsolation) setup(baseDir string, lim rlimits) error {
	uid, gid := os.Geteuid(), os.Getegid()
	switch {
	case !b.root:
	case b.uid != 0:
		if err := checkSearchable(baseDir, b.uid, b.gid); err != nil {
			return err
		}
		uid, gid = b.uid, b.gid
	default:
		if err := checkSearchable(baseDir, b.uidRange.First, b.uidRange.First); err != nil {
			return err
		}
		pool, err := newUIDPool(baseDir, b.uidRange)
		if err != nil {
			return err
		}
		pool.reclaim()
		b.uids = pool
		uid, gid = b.uidRange.First, b.uidRange.First
	}
	b.prlimit = probeRlimits(lim, uid, gid) == nil
	return nil
}

func (b *bwrapIsolation) limitsBeforeRun() bool { return b.prlimit }

// sandboxIDs: the server's own ids when it is not root; else HostUID, or
// a uid of the range leased for the sandbox alone (its gid the same).
func (b *bwrapIsolation) sandboxIDs() (hostIDs, error) {
	switch {
	case !b.root:
		return hostIDs{uid: os.Geteuid(), gid: os.Getegid()}, nil
	case b.uids == nil:
		return hostIDs{uid: b.uid, gid: b.gid}, nil
	}
	lease, err := b.uids.acquire()
	if err != nil {
		return hostIDs{}, err
	}
	return hostIDs{uid: lease.uid, gid: lease.uid, lease: lease}, nil
}

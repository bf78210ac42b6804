//go:build linux

package local

import (
	"log/slog"
	"os"
	"os/exec"
)

// isolation is how a profile is applied to a process. New chooses it once:
// bubblewrap namespaces (bwrap.go), or, for development only, none at all
// (insecure.go). Nothing else in the package asks which one it is.
type isolation interface {
	// prepare builds the command that runs a profile, with the
	// descriptors of its start-up handshake.
	prepare(pr *profile) (*launch, error)
	// inside maps a workspace-relative path to the path a sandboxed
	// process sees.
	inside(ws, rel string) string
	// visible reports whether a host path can be seen from a sandbox
	// (the runtime table checks interpreters with it).
	visible(path string) bool
	// otherUIDs reports whether sandboxes run as host uids other than the
	// server's own (their workspaces are then given to those uids).
	otherUIDs() bool
	// setup verifies that sandboxes can reach their workspaces below
	// BaseDir, prepares what sandboxes will lease there, and finds out
	// whether it can set their rlimits before they run.
	setup(baseDir string, lim rlimits) error
	// sandboxIDs leases the host uid and gid of a new sandbox's processes.
	sandboxIDs() (hostIDs, error)
	// limitsBeforeRun reports whether the isolation sets a profile's
	// rlimits on its first process before that runs (spawn.go), so that
	// no shell of the sandbox's needs to (profile.go).
	limitsBeforeRun() bool
}

// hostIDs are the host uid and gid of a sandbox's processes, and the lease
// that holds them (nil where nothing is leased).
type hostIDs struct {
	uid, gid int
	lease    *uidLease
}

// newIsolation is the one place that reads Config.InsecureNoNamespaces.
func newIsolation(cfg *Config, log *slog.Logger) (isolation, error) {
	if cfg.InsecureNoNamespaces {
		log.Warn("computemw/local: INSECURE DEVELOPMENT MODE: sandboxes run WITHOUT namespaces, filesystem isolation or system-call filter; never expose this server to untrusted code")
		return hostIsolation{}, nil
	}
	return newBwrap(cfg)
}

// launch is a prepared process and the descriptors of its start-up.
type launch struct {
	cmd *exec.Cmd
	// child holds the descriptors that only the child needs; they are
	// closed once it has started.
	child []*os.File
	// info is the read end of bwrap's info pipe, which reports the PID of
	// the sandbox's first process; nil where the command itself is the
	// process to confine.
	info *os.File
	// block is the write end of the pipe the sandbox waits on until it is
	// confined; nil where nothing waits.
	block *os.File
	// limits, when set, are applied to the sandbox's first process
	// before it is released, as the host uid and gid of the profile.
	limits   *rlimits
	uid, gid int
	// ns is the mount namespace the process starts in; nil for the
	// server's.
	ns *os.File
}

// closeChild closes the child's descriptors in the parent.
func (l *launch) closeChild() {
	for _, f := range l.child {
		if f != nil {
			_ = f.Close()
		}
	}
	l.child = nil
}

// close releases every descriptor of the launch.
func (l *launch) close() {
	l.closeChild()
	for _, f := range []*os.File{l.info, l.block} {
		if f != nil {
			_ = f.Close()
		}
	}
	l.info, l.block = nil, nil
}

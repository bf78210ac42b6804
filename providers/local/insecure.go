//go:build linux

package local

import (
	"os"
	"os/exec"
	"path/filepath"
)

// hostIsolation is the development mode (Config.InsecureNoNamespaces):
// processes run directly on the host, as the server's uid, in the
// workspace's host directory. Only the cgroup, the rlimits, the clean
// environment and the timeout of the profile apply: no namespace, no
// mount isolation, no system-call filter.
type hostIsolation struct{}

func (hostIsolation) prepare(pr *profile) (*launch, error) {
	cmd := exec.Command(pr.argv[0], pr.argv[1:]...)
	cmd.Env = pr.env
	cmd.Dir = pr.cwd
	cmd.SysProcAttr = procAttr()
	cmd.WaitDelay = waitDelay
	if pr.init != nil || pr.held != nil {
		// At the numbers bwrap's sandboxes have them; the rest closed.
		cmd.ExtraFiles = append(make([]*os.File, fdInitSocket-3), pr.init...)
		copy(cmd.ExtraFiles[fdHeld-3:], pr.held)
	}
	return &launch{cmd: cmd, ns: pr.mntns}, nil
}

func (hostIsolation) inside(ws, rel string) string { return filepath.Join(ws, rel) }

func (hostIsolation) visible(string) bool { return true }

func (hostIsolation) otherUIDs() bool { return false }

func (hostIsolation) setup(string, rlimits) error { return nil }

// limitsBeforeRun: nothing waits to be confined here; the program's shell
// sets the rlimits.
func (hostIsolation) limitsBeforeRun() bool { return false }

func (hostIsolation) sandboxIDs() (hostIDs, error) {
	return hostIDs{uid: os.Geteuid(), gid: os.Getegid()}, nil
}

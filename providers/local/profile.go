//go:build linux

package local

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local/internal/cgroups"
)

// profile is the complete isolation profile of one process: every measure
// that confines it, assembled by one function, buildProfile, and applied
// by the provider's isolation (bwrap.go; insecure.go applies only the
// cgroup, rlimits, environment and timeout). The package documentation
// has a table of the measures and what each protects against.
type profile struct {
	// argv is the program; where the isolation cannot set limits before
	// it runs, wrapped so that it first lowers its own rlimits (wrap).
	argv []string
	// limits are the rlimits the isolation sets on the first process
	// before it runs (spawn.go); nil when argv sets them.
	limits *rlimits
	// cwd is the working directory, as the process sees it.
	cwd string
	// env is the complete environment (KEY=value, sorted): a fixed base,
	// the sandbox's variables, the execution's; nothing of the host's.
	env []string
	// network shares the host's network namespace.
	network bool
	// tmpBytes is the size of the sandbox's private /tmp.
	tmpBytes int
	// binds are the bwrap options that expose the system directories.
	binds []string
	// seccomp is the compiled system-call filter; nil when disabled.
	seccomp []byte
	// cgroup receives the process before it runs; nil without cgroups.
	cgroup cgroups.Group
	// workspace is a descriptor of the workspace directory, bound at
	// /workspace; etc are descriptors of the generated /etc files
	// (etcNames order). Both are owned by the sandbox and the provider.
	workspace *os.File
	etc       []*os.File
	// etcBinds are the bwrap options that bind the host's /etc entries
	// one by one; etcStage, when not nil, is a directory with those
	// entries bound in it and the generated files, which a process that
	// starts in a workspace's namespace (mntns) binds as /etc instead
	// (Provider.etcStage).
	etcBinds []string
	etcStage *os.File
	// hostUID and hostGID are the host ids the process runs as.
	hostUID, hostGID int
	// mntns is the mount namespace the process starts in, where its
	// workspace is mounted (mountns.go); nil for the server's.
	mntns *os.File
	// init are the descriptors of a sandbox's init: its end of the
	// socket and the binary it runs (fdInitSocket, fdInitExe).
	init []*os.File
	// held are the standard input, output and error of the program a
	// held shell runs and the pipe bwrap reports its exit status to
	// (fdHeld ...); nil for any other process.
	held []*os.File
	// ownInit: the program is the sandbox's init, its PID 1 (bwrap's
	// --as-pid-1); otherwise bwrap's reaper is PID 1.
	ownInit bool
}

// The descriptors of a bwrap process, as its options name them.
const (
	// fdHeld ... fdHeld+2 are the standard input, output and error of
	// the program a held shell runs (held.go): single digits, as the
	// shell's redirections need. fdHeld+3 is where bwrap reports its
	// exit status (--json-status-fd).
	fdHeld      = 3
	numHeld     = 4
	fdInfo      = 7  // bwrap reports the sandbox's PID 1 (--info-fd)
	fdBlock     = 8  // the sandbox waits until it is confined (--block-fd)
	fdArgs      = 9  // the options themselves (--args)
	fdSeccomp   = 10 // the system-call filter (--seccomp)
	fdWorkspace = 11 // the workspace (--bind-fd)
	fdEtc       = 12 // the generated /etc files (--ro-bind-fd), one each
	// The init's socket and binary follow the /etc files.
	fdInitSocket = fdEtc + numEtc
	fdInitExe    = fdInitSocket + 1
)

func fdString(fd int) string { return strconv.Itoa(fd) }

// buildProfile assembles the profile of a process that runs argv in cwd
// (as the process sees it) with the execution's extra variables. It
// validates everything a client chose that reaches the profile.
func (s *sandbox) buildProfile(argv []string, cwd string, extra map[string]string) (*profile, error) {
	for _, a := range argv {
		if strings.IndexByte(a, 0) >= 0 {
			return nil, computemw.Errorf(computemw.CodeBadRequest, "the command contains a NUL byte")
		}
	}
	if strings.IndexByte(cwd, 0) >= 0 {
		return nil, computemw.Errorf(computemw.CodeBadRequest, "cwd contains a NUL byte")
	}
	env, err := s.environ(extra)
	if err != nil {
		return nil, err
	}
	lim := s.p.rlimits()
	pr := &profile{
		argv:      argv,
		cwd:       cwd,
		env:       env,
		network:   s.network,
		tmpBytes:  s.p.cfg.TmpSizeMB << 20,
		binds:     s.systemBinds(),
		seccomp:   s.p.seccomp,
		cgroup:    s.cg,
		workspace: s.wsFile,
		etc:       s.p.etc,
		hostUID:   s.uid,
		hostGID:   s.gid,
		mntns:     s.mntns,
	}
	if s.tmpl == nil {
		// A template's binds have its own /etc entries.
		pr.etcBinds, pr.etcStage = s.p.etcBinds, s.p.etcStage
	}
	if s.p.iso.limitsBeforeRun() {
		pr.limits = &lim
	} else {
		pr.argv = lim.wrap(argv)
	}
	return pr, nil
}

// bwrapArgs renders the profile as bwrap options: new user, PID, IPC, UTS,
// cgroup (and, unless the sandbox has the network, network) namespaces;
// an unprivileged uid with no capabilities and no nested user namespaces;
// read-only system directories, the workspace, a size-capped /tmp; the
// environment; the handshake and filter descriptors.
func (pr *profile) bwrapArgs() []string {
	args := make([]string, 0, 64+len(pr.binds)+3*len(pr.env))
	args = append(args,
		"--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
	)
	if !pr.network {
		args = append(args, "--unshare-net")
	}
	if pr.ownInit {
		// The sandbox's init (internal/sandboxinit) is its PID 1 and reaps
		// its orphans; its death ends every process of the sandbox.
		args = append(args, "--as-pid-1")
	}
	args = append(args,
		"--uid", strconv.Itoa(sandboxUID), "--gid", strconv.Itoa(sandboxGID),
		"--disable-userns",
		"--hostname", "sandbox",
		// A new session: no program can push input into a terminal it
		// shares with the host (TIOCSTI).
		"--die-with-parent", "--new-session",
		"--cap-drop", "ALL",
	)
	args = append(args, pr.binds...)
	if pr.etcStaged() {
		// One mount, where bwrap would otherwise make one per entry and
		// read the whole mount table after each.
		args = append(args, "--ro-bind-fd", fdString(fdEtc), "/etc")
	} else {
		args = append(args, pr.etcBinds...)
		for i, name := range etcNames {
			args = append(args, "--ro-bind-fd", fdString(fdEtc+i), "/etc/"+name)
		}
	}
	args = append(args,
		"--proc", "/proc",
		"--dev", "/dev",
		"--size", strconv.Itoa(pr.tmpBytes), "--tmpfs", "/tmp",
		// Bound through the descriptor opened when the workspace was
		// made: bwrap checks that what it mounted is that directory.
		"--bind-fd", fdString(fdWorkspace), workspaceDir,
		// The root is bwrap's tmpfs, writable by the sandbox's uid, and
		// /etc a directory in it: make it read-only once every mount point
		// exists. Not recursive: /workspace and /tmp stay writable.
		"--remount-ro", "/",
		"--chdir", pr.cwd,
		"--info-fd", fdString(fdInfo),
		"--block-fd", fdString(fdBlock),
	)
	if pr.held != nil {
		// The held program's status, as soon as bwrap's PID 1 reaped it.
		args = append(args, "--json-status-fd", fdString(fdHeld+3))
	}
	if pr.seccomp != nil {
		args = append(args, "--seccomp", fdString(fdSeccomp))
	}
	// The environment reaches the sandbox's processes through
	// --clearenv/--setenv, never bwrap's own environment: the host's
	// dynamic loader would obey LD_PRELOAD and friends in bwrap itself,
	// before any namespace exists.
	args = append(args, "--clearenv")
	for _, kv := range pr.env {
		k, v, _ := strings.Cut(kv, "=")
		args = append(args, "--setenv", k, v)
	}
	return args
}

// etcStaged reports whether the process binds its /etc in one mount: it
// starts in its workspace's namespace, a copy of the one the staged
// directory's entries are bound in.
func (pr *profile) etcStaged() bool { return pr.etcStage != nil && pr.mntns != nil }

// etcFiles returns the descriptors that go at fdEtc ... (nil: closed).
func (pr *profile) etcFiles() []*os.File {
	if pr.etcStaged() {
		files := make([]*os.File, numEtc)
		files[0] = pr.etcStage
		return files
	}
	return pr.etc
}

// etcFiles are the host files of /etc bound read-only when present.
var etcFiles = []string{
	"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives",
	"/etc/ssl", "/etc/ca-certificates", "/etc/localtime", "/etc/nsswitch.conf",
	"/etc/mime.types", "/etc/protocols", "/etc/services",
}

// systemBinds returns the bwrap options that expose the host's system
// directories read-only: directories are bound, merged-/usr symlinks are
// recreated as symlinks. etcBinds adds the host's /etc entries.
func systemBinds(dirs []string) []string {
	var args []string
	for _, d := range dirs {
		fi, err := os.Lstat(d)
		if err != nil {
			continue
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			if target, err := os.Readlink(d); err == nil {
				args = append(args, "--symlink", target, d)
			}
			continue
		}
		args = append(args, "--ro-bind", d, d)
	}
	return args
}

// etcBinds returns the bwrap options that bind the host's entries of
// /etc (etcFiles) that exist, read-only, each on its own.
func etcBinds() []string {
	var args []string
	for _, f := range etcFiles {
		if _, err := os.Stat(f); err == nil {
			args = append(args, "--ro-bind", f, f)
		}
	}
	return args
}

// wrap wraps argv so that rlimits are lowered (soft and hard) by the
// sandbox's own shell before the program runs, where the isolation cannot
// set them first (rlimits.go: apply): lowering one's own limits needs no
// privilege. The shell's -f unit is 512-byte blocks (POSIX).
func (r rlimits) wrap(argv []string) []string {
	script := fmt.Sprintf("ulimit -f %d && ulimit -n %d && ulimit -c 0 && exec \"$@\"", r.fileBytes/512, r.openFiles)
	return append([]string{"/bin/sh", "-c", script, "sh"}, argv...)
}

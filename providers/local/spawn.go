package local

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pipeSet holds the descriptors of bwrap's start-up handshake: bwrap
// reports the sandbox's PID 1 on the info pipe, then waits on the block pipe
// until the PID is in the cgroup and its rlimits are set, so that no
// sandboxed instruction runs outside its limits.
type pipeSet struct {
	infoR, infoW   *os.File
	blockR, blockW *os.File
	argsR          *os.File
	seccompR       *os.File
}

func (ps *pipeSet) close() {
	for _, f := range []*os.File{ps.infoR, ps.infoW, ps.blockR, ps.blockW, ps.argsR, ps.seccompR} {
		if f != nil {
			_ = f.Close()
		}
	}
}

// bwrapOptions is the isolation profile of one execution. It reaches bwrap
// through a pipe (--args), so that host paths in it do not show in the
// sandbox's /proc/1/cmdline.
func (s *sandbox) bwrapOptions(cwd string) []string {
	args := make([]string, 0, 64)
	args = append(args,
		"--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
	)
	if !s.network {
		args = append(args, "--unshare-net")
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
	args = append(args, s.p.binds...)
	args = append(args,
		"--proc", "/proc",
		"--dev", "/dev",
		"--size", strconv.Itoa(s.p.cfg.TmpSizeMB<<20), "--tmpfs", "/tmp",
		"--bind", s.ws, workspaceDir,
		// The root is bwrap's tmpfs, writable by the sandbox's uid, and
		// /etc a directory in it: make it read-only once every mount point
		// exists. Not recursive: /workspace and /tmp stay writable.
		"--remount-ro", "/",
		"--chdir", cwd,
		"--info-fd", "3",
		"--block-fd", "4",
	)
	if s.p.seccomp != nil {
		args = append(args, "--seccomp", "6")
	}
	return args
}

// command builds the exec.Cmd of one execution with its handshake pipes.
func (s *sandbox) command(argv []string, cwd string, env []string) (*exec.Cmd, *pipeSet, error) {
	if s.p.cfg.InsecureNoNamespaces {
		argv = s.withRlimits(argv)
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = env
		cmd.Dir = cwd
		cmd.SysProcAttr = procAttr()
		cmd.WaitDelay = waitDelay
		return cmd, &pipeSet{}, nil
	}
	ps := &pipeSet{}
	var err error
	if ps.infoR, ps.infoW, err = os.Pipe(); err != nil {
		return nil, nil, fmt.Errorf("local: pipe: %w", err)
	}
	if ps.blockR, ps.blockW, err = os.Pipe(); err != nil {
		ps.close()
		return nil, nil, fmt.Errorf("local: pipe: %w", err)
	}
	// The sandbox's environment reaches its processes through bwrap's
	// --clearenv/--setenv, never bwrap's own environment: the host's
	// dynamic loader would obey LD_PRELOAD and friends in bwrap itself,
	// before any namespace exists.
	opts := append(s.bwrapOptions(cwd), "--clearenv")
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		opts = append(opts, "--setenv", k, v)
	}
	if err := ps.writeArgs(opts); err != nil {
		ps.close()
		return nil, nil, err
	}
	cmd := exec.Command(s.p.bwrap, append([]string{"--args", "5", "--"}, s.withRlimits(argv)...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Dir = "/"
	cmd.ExtraFiles = []*os.File{ps.infoW, ps.blockR, ps.argsR} // fds 3, 4 and 5
	if s.p.seccomp != nil {
		if ps.seccompR, err = pipeWith(s.p.seccomp); err != nil {
			ps.close()
			return nil, nil, err
		}
		cmd.ExtraFiles = append(cmd.ExtraFiles, ps.seccompR) // fd 6
	}
	cmd.SysProcAttr = procAttr()
	cmd.WaitDelay = waitDelay
	if s.p.rootUser {
		cmd.SysProcAttr.Credential = &syscall.Credential{
			Uid: uint32(s.p.cfg.HostUID), Gid: uint32(s.p.cfg.HostGID), NoSetGroups: false,
		}
	}
	return cmd, ps, nil
}

// waitDelay bounds how long Wait waits for output pipes after bwrap is
// gone. bwrap exits as soon as the sandbox's PID 1 reports the program's
// status, while the kernel may still be tearing the namespaces down (it
// serializes that work: seconds when hundreds of sandboxes end at once),
// so the pipes close late. It is also a second line of defence should a
// process outlive its PID namespace while holding a pipe.
const waitDelay = 10 * time.Second

// procAttr starts bwrap in its own process group (killTree kills it) and
// kills it if the server dies.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// writeArgs puts NUL-separated arguments into a pipe for bwrap's --args.
func (ps *pipeSet) writeArgs(args []string) error {
	var buf []byte
	for _, a := range args {
		buf = append(buf, a...)
		buf = append(buf, 0)
	}
	r, err := pipeWith(buf)
	ps.argsR = r
	return err
}

// pipeWith returns the read end of a pipe holding data, already closed for
// writing. data (the profile, the filter) is a few KiB, well within a
// pipe's buffer.
func pipeWith(data []byte) (*os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("local: pipe: %w", err)
	}
	defer w.Close()
	if _, err := w.Write(data); err != nil {
		r.Close()
		return nil, fmt.Errorf("local: pipe: %w", err)
	}
	return r, nil
}

// start starts cmd and completes the handshake: cgroup, rlimits, go.
func (s *sandbox) start(cmd *exec.Cmd, ps *pipeSet) error {
	defer ps.close()
	closeInheritedFDs()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("local: start: %w", err)
	}
	s.started(cmd)
	if s.p.cfg.InsecureNoNamespaces {
		return s.confine(cmd.Process.Pid)
	}
	_ = ps.infoW.Close()
	_ = ps.blockR.Close()
	ps.infoW, ps.blockR = nil, nil

	var info struct {
		ChildPID int `json:"child-pid"`
	}
	if err := json.NewDecoder(ps.infoR).Decode(&info); err != nil || info.ChildPID <= 0 {
		killTree(cmd)
		_ = cmd.Wait()
		return fmt.Errorf("local: bwrap failed to start the sandbox (exit %d): %s",
			exitCode(cmd.ProcessState, nil), stderrOf(cmd))
	}
	if err := s.confine(info.ChildPID); err != nil {
		killTree(cmd)
		_ = cmd.Wait()
		return err
	}
	if _, err := ps.blockW.Write([]byte{'g'}); err != nil {
		killTree(cmd)
		_ = cmd.Wait()
		return fmt.Errorf("local: release sandbox: %w", err)
	}
	return nil
}

// confine puts a sandbox's PID 1 into the cgroup; every process it starts
// inherits it.
func (s *sandbox) confine(pid int) error {
	if s.cg != nil {
		if err := s.cg.add(pid); err != nil {
			return fmt.Errorf("local: cgroup: %w", err)
		}
	}
	return nil
}

// withRlimits wraps argv so that rlimits are lowered (soft and hard) by the
// sandbox's own shell before the program runs. Lowering one's own limits
// needs no privilege, unlike prlimit(2) on a process of another uid, which
// a root server lacking CAP_SYS_RESOURCE cannot do. The shell's -f unit is
// 512-byte blocks (POSIX).
func (s *sandbox) withRlimits(argv []string) []string {
	script := fmt.Sprintf("ulimit -f %d && ulimit -n %d && ulimit -c 0 && exec \"$@\"",
		s.p.cfg.MaxFileBytes/512, s.p.cfg.MaxOpenFiles)
	return append([]string{"/bin/sh", "-c", script, "sh"}, argv...)
}

func stderrOf(cmd *exec.Cmd) string {
	if b, ok := cmd.Stderr.(*cappedBuffer); ok {
		out, _ := b.result()
		return out
	}
	return ""
}

//go:build linux

package local

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// rlimits are the limits every process of a sandbox runs under, soft and
// hard: the largest file it may write, the descriptors it may hold, and no
// core dumps.
type rlimits struct {
	fileBytes uint64 // a multiple of 512, the unit of a shell's file size limit
	openFiles uint64
}

// rlimits returns the provider's rlimits for every sandbox.
func (p *Provider) rlimits() rlimits {
	return rlimits{fileBytes: p.cfg.MaxFileBytes / 512 * 512, openFiles: p.cfg.MaxOpenFiles}
}

// apply lowers the rlimits of process pid, which runs as the host uid and
// gid given, before it runs its program (spawn.go: the sandbox's first
// process, blocked until it is confined), so that every process of the
// sandbox inherits them and none can raise them. Setting another
// process's rlimits takes CAP_SYS_RESOURCE or the process's own real uid
// and gid: a root server lacking the capability takes the sandbox's ids
// on one locked thread for the call, as the kernel's credentials are per
// thread, and gives them back. A thread that could not take its own ids
// back is never reused: the runtime ends it with this goroutine (and
// never starts a thread from a locked one).
func (r rlimits) apply(pid, uid, gid int) error {
	if uid == os.Getuid() && gid == os.Getgid() {
		return r.set(pid)
	}
	runtime.LockOSThread()
	ruid, euid, suid := unix.Getresuid()
	rgid, egid, sgid := unix.Getresgid()
	restore := func() {
		if setresid(sysSetresuid, ruid, euid, suid) == nil && setresid(sysSetresgid, rgid, egid, sgid) == nil {
			runtime.UnlockOSThread()
		}
	}
	// The gid first, while the thread still has CAP_SETGID; the saved ids
	// stay the server's, so that it can take them back.
	if err := setresid(sysSetresgid, gid, gid, sgid); err != nil {
		restore()
		return fmt.Errorf("local: rlimits: take gid %d: %w", gid, err)
	}
	if err := setresid(sysSetresuid, uid, uid, suid); err != nil {
		restore()
		return fmt.Errorf("local: rlimits: take uid %d: %w", uid, err)
	}
	err := r.set(pid)
	restore()
	return err
}

// set sets the rlimits of pid with prlimit(2).
func (r rlimits) set(pid int) error {
	for _, l := range []struct {
		resource int
		max      uint64
	}{{unix.RLIMIT_FSIZE, r.fileBytes}, {unix.RLIMIT_NOFILE, r.openFiles}, {unix.RLIMIT_CORE, 0}} {
		if err := unix.Prlimit(pid, l.resource, &unix.Rlimit{Cur: l.max, Max: l.max}, nil); err != nil {
			return fmt.Errorf("local: rlimits of process %d: %w", pid, err)
		}
	}
	return nil
}

// setresid sets the calling thread's real, effective and saved uid (or
// gid) with a raw system call: the syscall and unix packages' versions
// change every thread of the process.
func setresid(trap uintptr, r, e, s int) error {
	if _, _, errno := unix.RawSyscall(trap, uintptr(r), uintptr(e), uintptr(s)); errno != 0 {
		return errno
	}
	return nil
}

// probeRlimits reports whether apply works on this host for processes of
// uid and gid: it starts a process as them and lowers its limits. Where
// it does not (a server without CAP_SETUID, a security module refusing
// prlimit), the profile's own shell sets them (profile.go).
func probeRlimits(r rlimits, uid, gid int) error {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		return err
	}
	cmd := exec.Command(sleep, "60")
	cmd.Dir = "/"
	cmd.SysProcAttr = procAttr()
	if uid != os.Geteuid() || gid != os.Getegid() {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	if err := r.apply(cmd.Process.Pid, uid, gid); err != nil {
		return err
	}
	// Read back as anyone may: prlimit(2) would need the same rights.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", cmd.Process.Pid))
	if err != nil {
		return err
	}
	want := regexp.MustCompile(fmt.Sprintf(`(?m)^Max open files\s+%d\s+%d\s`, r.openFiles, r.openFiles))
	if !want.Match(b) {
		return errors.New("the limits did not change")
	}
	return nil
}

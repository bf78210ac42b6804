//go:build linux

package sandboxinit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// resetBudget bounds a reset: a sandbox whose processes do not die, or
// whose files take longer to remove, is not reset but destroyed.
const resetBudget = 2 * time.Second

// reset makes the sandbox as it was when the init started, for its next
// user, or says why it cannot: every other process killed and gone, every
// System V IPC object removed, the writable places given back their
// modes and extended attributes and /dev its entries (places), every
// directory of dirs emptied, no socket left in its network namespace,
// and the init's own limits, priority and affinity as they were. Only a
// PID 1 resets.
func (in *sandboxInit) reset(dirs []string) error {
	if !in.pid1 {
		return errors.New("a reset needs the sandbox's namespaces")
	}
	deadline := time.Now().Add(resetBudget)
	if err := in.killAll(deadline); err != nil {
		return err
	}
	if err := removeIPC(); err != nil {
		return err
	}
	if err := in.places.restore(deadline); err != nil {
		return err
	}
	for _, d := range dirs {
		if err := emptyDir(d, deadline); err != nil {
			return fmt.Errorf("empty %s: %w", d, err)
		}
	}
	if err := in.net.noSockets(); err != nil {
		return err
	}
	if err := noTerminals(); err != nil {
		return err
	}
	if now := readSelfState(); !now.equal(in.self) {
		return fmt.Errorf("the init's own state changed: %s", now.diff(in.self))
	}
	return nil
}

// killAll kills every process but the init until none is left (the
// reaper reaps them), and forgets the background programs.
func (in *sandboxInit) killAll(deadline time.Time) error {
	for wait := 50 * time.Microsecond; ; wait = min(2*wait, 5*time.Millisecond) {
		in.mu.Lock()
		clear(in.bg)
		in.bgStarted = false
		_ = unix.Kill(-1, unix.SIGKILL)
		in.mu.Unlock()
		left := slices.DeleteFunc(listPIDs(), func(p int) bool { return p == 1 })
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d processes left after kill", len(left))
		}
		time.Sleep(wait)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.execs) > 0 || in.running != 0 {
		return fmt.Errorf("%d executions still registered", len(in.execs))
	}
	return nil
}

// The commands of shmctl, semctl and msgctl that count a namespace's
// objects (ipc(5)), and the structures they fill.
const (
	cmdShmInfo = 14 // SHM_INFO: shmInfo.usedIDs segments
	cmdSemInfo = 19 // SEM_INFO: semInfo.sets semaphore sets
	cmdMsgInfo = 12 // MSG_INFO: msgInfo.queues message queues
)

type shmInfo struct {
	usedIDs int32
	_       int32
	_       [5]uint64
}

type semInfo struct {
	_    [7]int32
	sets int32 // semusz
	_    [2]int32
}

type msgInfo struct {
	queues int32 // msgpool
	_      [6]int32
	_      uint16
}

// ipcKinds are the three kinds of System V IPC object: how many the
// sandbox's IPC namespace holds, where it lists them, and how one is
// removed.
var ipcKinds = []struct {
	file  string
	count func() (int, error)
	rm    func(id int) error
}{
	{"/proc/sysvipc/shm",
		func() (int, error) {
			var i shmInfo
			_, _, e := unix.Syscall(unix.SYS_SHMCTL, 0, cmdShmInfo, uintptr(unsafe.Pointer(&i)))
			return int(i.usedIDs), errnoErr(e)
		},
		func(id int) error { _, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil); return err }},
	{"/proc/sysvipc/sem",
		func() (int, error) {
			var i semInfo
			_, _, e := unix.Syscall6(unix.SYS_SEMCTL, 0, 0, cmdSemInfo, uintptr(unsafe.Pointer(&i)), 0, 0)
			return int(i.sets), errnoErr(e)
		},
		func(id int) error {
			_, _, e := unix.Syscall6(unix.SYS_SEMCTL, uintptr(id), 0, unix.IPC_RMID, 0, 0, 0)
			return errnoErr(e)
		}},
	{"/proc/sysvipc/msg",
		func() (int, error) {
			var i msgInfo
			_, _, e := unix.Syscall(unix.SYS_MSGCTL, 0, cmdMsgInfo, uintptr(unsafe.Pointer(&i)))
			return int(i.queues), errnoErr(e)
		},
		func(id int) error {
			_, _, e := unix.Syscall(unix.SYS_MSGCTL, uintptr(id), unix.IPC_RMID, 0)
			return errnoErr(e)
		}},
}

// removeIPC removes every System V shared memory segment, semaphore set
// and message queue of the sandbox's IPC namespace (all of them its
// programs'), then checks that none is left. The namespace's own counts
// say whether there is any, in one system call each; only then is its
// list in /proc/sysvipc read.
func removeIPC() error {
	for _, k := range ipcKinds {
		n, err := k.count()
		if err != nil {
			return fmt.Errorf("count IPC objects (%s): %w", k.file, err)
		}
		if n == 0 {
			continue
		}
		ids, err := ipcIDs(k.file)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := k.rm(id); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EIDRM) {
				return fmt.Errorf("remove IPC object %d (%s): %w", id, k.file, err)
			}
		}
		if n, err = k.count(); err != nil || n > 0 {
			return fmt.Errorf("%d IPC objects left in %s (%v)", n, k.file, err)
		}
	}
	return nil
}

func errnoErr(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// ipcIDs reads the IDs (second column) of a /proc/sysvipc table.
func ipcIDs(file string) ([]int, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	var ids []int
	sc := bufio.NewScanner(bytes.NewReader(b))
	for first := true; sc.Scan(); first = false {
		f := strings.Fields(sc.Text())
		if first || len(f) < 2 {
			continue
		}
		id, err := strconv.Atoi(f[1])
		if err != nil {
			return nil, fmt.Errorf("%s: %q", file, sc.Text())
		}
		ids = append(ids, id)
	}
	return ids, sc.Err()
}

// netFiles are the files noSockets reads: the sandbox's network
// namespace's socket counters and its Unix sockets, opened when the init
// starts (the namespace is the init's for its life).
type netFiles struct {
	sockstat, sockstat6, unix *procFile
}

func openNetFiles() netFiles {
	return netFiles{
		sockstat:  openProcFile("/proc/net/sockstat"),
		sockstat6: openProcFile("/proc/net/sockstat6"),
		unix:      openProcFile("/proc/net/unix"),
	}
}

// noSockets fails when the sandbox's network namespace still counts a
// socket (one in TIME_WAIT outlives its process) or lists a Unix socket:
// the next user would see its addresses. The namespace's own counters in
// /proc/net/sockstat{,6} say so at once, where /proc/net/tcp walks the
// host's whole connection table.
func (nf netFiles) noSockets() error {
	buf := make([]byte, 4096)
	for _, f := range []*procFile{nf.sockstat, nf.sockstat6} {
		if f.missing() {
			continue // no IPv6
		}
		b, err := f.read(buf)
		if err != nil {
			return err
		}
		if n := socketsIn(b); n != "" {
			return fmt.Errorf("sockets left: %s", n)
		}
	}
	if nf.unix.missing() {
		return nil
	}
	b, err := nf.unix.read(buf)
	if err != nil {
		return err
	}
	// The first line is the header.
	if n := bytes.Count(bytes.TrimSpace(b), []byte{'\n'}); n > 0 {
		return fmt.Errorf("%d Unix sockets left", n)
	}
	return nil
}

// socketsIn names the nonzero per-namespace socket counts of a sockstat
// file ("TCP: inuse 0 orphan 0 tw 0 alloc 1 mem 0"): inuse and tw; the
// other fields count the whole host.
func socketsIn(b []byte) string {
	var left []string
	for line := range strings.Lines(string(b)) {
		proto, rest, ok := strings.Cut(line, ":")
		if !ok || proto == "sockets" || strings.HasPrefix(proto, "FRAG") {
			continue
		}
		f := strings.Fields(rest)
		for i := 0; i+1 < len(f); i += 2 {
			if (f[i] == "inuse" || f[i] == "tw") && f[i+1] != "0" {
				left = append(left, proto+" "+f[i]+" "+f[i+1])
			}
		}
	}
	return strings.Join(left, ", ")
}

// noTerminals fails when the sandbox's devpts lists a pseudo-terminal:
// one whose master is still open somewhere (the host's end of a terminal
// of the last user) reaches the next.
func noTerminals() error {
	d, err := os.Open("/dev/pts")
	if err != nil {
		return fmt.Errorf("read /dev/pts: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("read /dev/pts: %w", err)
	}
	for _, n := range names {
		if n != "ptmx" {
			return fmt.Errorf("pseudo-terminal %s left", n)
		}
	}
	return nil
}

// emptyDir removes everything in dir (not dir itself), without following
// a symbolic link, opening each directory to be emptied for its owner
// first; then checks that nothing is left. A directory that does not
// exist, or is read-only to the sandbox, is left as it is.
func emptyDir(dir string, deadline time.Time) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if unix.Faccessat(fd, ".", unix.W_OK, unix.AT_EACCESS) != nil {
		// Nothing the sandbox's user can write to.
		var st unix.Stat_t
		if unix.Fstat(fd, &st) == nil && st.Uid != uint32(os.Getuid()) {
			return nil
		}
	}
	if err := emptyAt(fd, deadline, 0); err != nil {
		return err
	}
	names, err := readNames(fd)
	if err != nil {
		return err
	}
	if len(names) > 0 {
		return fmt.Errorf("%d entries left", len(names))
	}
	return nil
}

// maxDepth bounds the directories a reset descends into.
const maxDepth = 256

// emptyAt removes every entry of the directory open at fd.
func emptyAt(fd int, deadline time.Time, depth int) error {
	if depth > maxDepth {
		return errors.New("directories nested too deep")
	}
	for {
		names, err := readNames(fd)
		if err != nil {
			return err
		}
		if len(names) == 0 {
			return nil
		}
		for _, name := range names {
			if time.Now().After(deadline) {
				return errors.New("out of time")
			}
			err := unix.Unlinkat(fd, name, 0)
			if err == nil || errors.Is(err, unix.ENOENT) {
				continue
			}
			if !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EPERM) {
				return fmt.Errorf("remove %s: %w", name, err)
			}
			// A directory: opened for its owner, emptied, removed.
			_ = unix.Fchmodat(fd, name, 0o700, 0)
			sub, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("open %s: %w", name, err)
			}
			err = emptyAt(sub, deadline, depth+1)
			unix.Close(sub)
			if err != nil {
				return err
			}
			if err := unix.Unlinkat(fd, name, unix.AT_REMOVEDIR); err != nil && !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("remove %s: %w", name, err)
			}
		}
	}
}

// readNames lists the directory open at fd, from its start.
func readNames(fd int) ([]string, error) {
	if _, err := unix.Seek(fd, 0, 0); err != nil {
		return nil, err
	}
	var names []string
	buf := make([]byte, 8<<10)
	for {
		n, err := unix.ReadDirent(fd, buf)
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}

// selfState is what of the init a program of the sandbox could change
// (it runs as the same user): rlimits, scheduling priority, policy and
// CPU affinity, I/O priority.
type selfState struct {
	rlimits  [16]unix.Rlimit
	nice     int
	policy   uintptr
	affinity unix.CPUSet
	ioprio   uintptr
}

// devDir is the sandbox's /dev: a tmpfs the sandbox's user owns, holding
// what bwrap put there (device nodes bound from the host, the standard
// stream links, pts and shm).
const devDir = "/dev"

// place is what a reset restores of a directory the sandbox may write
// to, besides its contents: its mode and extended attributes.
type place struct {
	mode   uint32
	xattrs []string
}

// entry is one entry of /dev as bwrap made it.
type entry struct {
	mode   uint32
	rdev   uint64
	target string
}

// places is the state of the writable places when the init started: the
// working directory (the workspace) and the fixed ones.
type places struct {
	dirs map[string]place
	dev  map[string]entry
}

// writablePlaces are the directories a reset restores; the init's working
// directory (the workspace) is added when it starts.
var writablePlaces = []string{"/tmp", "/var/tmp", "/dev/shm", devDir}

func readPlaces() places {
	ps := places{dirs: map[string]place{}, dev: map[string]entry{}}
	dirs := writablePlaces
	if wd, err := os.Getwd(); err == nil {
		dirs = append(slices.Clone(dirs), wd)
	}
	for _, d := range dirs {
		var st unix.Stat_t
		if unix.Lstat(d, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			continue
		}
		ps.dirs[d] = place{mode: st.Mode, xattrs: xattrNames(d)}
	}
	ps.dev, _ = readDev()
	return ps
}

// xattrNames lists a path's extended attributes.
func xattrNames(p string) []string {
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(p, buf)
	if err != nil || n <= 0 {
		return nil
	}
	var names []string
	for _, b := range bytes.Split(buf[:n], []byte{0}) {
		if len(b) > 0 {
			names = append(names, string(b))
		}
	}
	slices.Sort(names)
	return names
}

// readDev lists /dev.
func readDev() (map[string]entry, error) {
	d, err := os.Open(devDir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	out := make(map[string]entry, len(names))
	for _, n := range names {
		p := devDir + "/" + n
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return nil, err
		}
		e := entry{mode: st.Mode, rdev: st.Rdev}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			e.target, _ = os.Readlink(p)
		}
		out[n] = e
	}
	return out, nil
}

// restorePlaces gives each writable place back its mode, removes the
// extended attributes it did not have, and makes /dev what bwrap made:
// what was added removed (emptied, for a directory), what was changed
// or removed a failure.
func (ps places) restore(deadline time.Time) error {
	for d, pl := range ps.dirs {
		var st unix.Stat_t
		if err := unix.Lstat(d, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return fmt.Errorf("%s is no longer a directory (%v)", d, err)
		}
		if st.Mode != pl.mode {
			if err := unix.Chmod(d, pl.mode&0o7777); err != nil {
				return fmt.Errorf("mode of %s: %w", d, err)
			}
		}
		for _, x := range xattrNames(d) {
			if !slices.Contains(pl.xattrs, x) {
				if err := unix.Lremovexattr(d, x); err != nil {
					return fmt.Errorf("attribute %s of %s: %w", x, d, err)
				}
			}
		}
	}
	now, err := readDev()
	if err != nil {
		return fmt.Errorf("read %s: %w", devDir, err)
	}
	fd, err := unix.Open(devDir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for n, e := range now {
		was, ok := ps.dev[n]
		switch {
		case ok && was != e:
			return fmt.Errorf("%s/%s changed", devDir, n)
		case ok:
			continue
		}
		if err := unix.Unlinkat(fd, n, 0); err == nil || errors.Is(err, unix.ENOENT) {
			continue
		} else if !errors.Is(err, unix.EISDIR) {
			return fmt.Errorf("remove %s/%s: %w", devDir, n, err)
		}
		_ = unix.Fchmodat(fd, n, 0o700, 0)
		sub, err := unix.Openat(fd, n, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s/%s: %w", devDir, n, err)
		}
		err = emptyAt(sub, deadline, 1)
		unix.Close(sub)
		if err != nil {
			return err
		}
		if err := unix.Unlinkat(fd, n, unix.AT_REMOVEDIR); err != nil {
			return fmt.Errorf("remove %s/%s: %w", devDir, n, err)
		}
	}
	for n := range ps.dev {
		if _, ok := now[n]; !ok {
			return fmt.Errorf("%s/%s was removed", devDir, n)
		}
	}
	return nil
}

func readSelfState() selfState {
	var s selfState
	for r := range s.rlimits {
		_ = unix.Getrlimit(r, &s.rlimits[r])
	}
	s.nice, _ = unix.Getpriority(unix.PRIO_PROCESS, 0)
	s.policy, _, _ = unix.Syscall(unix.SYS_SCHED_GETSCHEDULER, 0, 0, 0)
	_ = unix.SchedGetaffinity(0, &s.affinity)
	s.ioprio, _, _ = unix.Syscall(unix.SYS_IOPRIO_GET, 1 /* IOPRIO_WHO_PROCESS */, 0, 0)
	return s
}

func (s selfState) equal(o selfState) bool { return s == o }

// diff names what differs between s and o.
func (s selfState) diff(o selfState) string {
	var d []string
	for r := range s.rlimits {
		if s.rlimits[r] != o.rlimits[r] {
			d = append(d, fmt.Sprintf("rlimit %d %v (was %v)", r, s.rlimits[r], o.rlimits[r]))
		}
	}
	if s.nice != o.nice {
		d = append(d, fmt.Sprintf("priority %d (was %d)", s.nice, o.nice))
	}
	if s.policy != o.policy {
		d = append(d, fmt.Sprintf("scheduling policy %d (was %d)", s.policy, o.policy))
	}
	if s.affinity != o.affinity {
		d = append(d, "CPU affinity")
	}
	if s.ioprio != o.ioprio {
		d = append(d, fmt.Sprintf("I/O priority %d (was %d)", s.ioprio, o.ioprio))
	}
	return strings.Join(d, ", ")
}

//go:build linux

// Package sandboxinit holds a sandbox's init: the code that runs inside
// the sandbox as its PID 1 and starts every program of it.
//
// The init is the server's own binary, which the provider starts inside
// the sandbox's profile with [Env] set; this package's init function sees
// the variable and serves as the init instead of returning to the
// program's main. The switch is made at import time, rather than by a
// call the server makes early in main (as moby's reexec.Init is), for
// three reasons:
//
//   - Every binary that links the provider serves as the init without a
//     line of its own: the examples, every test binary that starts a
//     sandbox, any server that embeds the kit. A call forgotten in one of
//     them would not fail at New, but run that program's main inside
//     every sandbox it starts.
//   - It runs early: Go initialises this package as soon as the few
//     packages it imports are, and always before the provider and every
//     package that imports it, so much of the server's own package
//     initialisation (its frameworks, drivers, registrations) never runs
//     in a sandbox; a call from main would run after all of it.
//   - Nothing else can start it: the variable is set only by the
//     provider, only inside the profile, and removed (with the whole
//     environment) before the init serves.
//
// What it costs: the packages this one imports (the standard library,
// golang.org/x/sys, github.com/creack/pty and initproto), and the
// packages Go's initialisation order puts before it, run their own
// initialisation in each sandbox's init. Keep heavy work out of init
// functions.
package sandboxinit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/computemw/kit/providers/local/internal/initproto"
	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// Env names the environment variable that turns the server's own binary
// into a sandbox's init: "<socket fd>,<binary fd>". The provider sets it
// only for the init it starts, inside the sandbox's profile (Environ).
const Env = "COMPUTEMW_SANDBOX_INIT"

// rlimitsEnv carries the rlimits the init sets on itself before it
// serves: "<file size bytes>,<open files>".
const rlimitsEnv = "COMPUTEMW_SANDBOX_RLIMITS"

// backgroundEnv marks a background process and its descendants, which
// survive the end of executions.
const backgroundEnv = "COMPUTEMW_BACKGROUND"

// maxBackground caps the background programs an init starts (their
// descendants count against the sandbox's process limit).
const maxBackground = 32

// Environ returns the variables that make the server's binary, started
// with its end of the socket pair at socketFD and its own descriptor at
// exeFD, a sandbox's init whose processes may write files of at most
// fileBytes and hold openFiles descriptors (and dump no core).
func Environ(socketFD, exeFD int, fileBytes, openFiles uint64) []string {
	return []string{
		Env + "=" + strconv.Itoa(socketFD) + "," + strconv.Itoa(exeFD),
		rlimitsEnv + "=" + strconv.FormatUint(fileBytes, 10) + "," + strconv.FormatUint(openFiles, 10),
	}
}

// The switch: in a binary started as a sandbox's init, this never returns
// to the program's main; the init serves the provider until its socket
// closes, then the process exits.
func init() {
	if v, ok := os.LookupEnv(Env); ok {
		os.Exit(run(v))
	}
}

// sandboxInit is the state of a running init.
type sandboxInit struct {
	conn *initproto.Conn

	mu    sync.Mutex
	execs map[int]uint64 // PID of an execution's program → execution ID
	byID  map[uint64]int // execution ID → PID
	// viaShell holds the executions started in their shell form.
	viaShell map[uint64]bool
	bg       map[int]bool // PIDs of background programs
	// bgStarted: a background program was started, so processes marked
	// as its descendants may run after it has exited.
	bgStarted bool
	running   int // executions (not background) whose program runs
	// pid1: the init is its PID namespace's first process, so every
	// process it sees is the sandbox's. Without namespaces (development
	// mode) it is not, and it never signals beyond an execution's own
	// process group.
	pid1 bool
	// started wakes the reaper, which has no child to wait for, once a
	// program has started.
	started chan struct{}
	// self is what a reset finds unchanged in the init, or fails;
	// places what it restores of the writable places.
	self   selfState
	places places
	net    netFiles
}

// run serves the provider; its exit status is only seen by bwrap.
func run(spec string) int {
	// Nothing of the server's binary is reachable from the sandbox:
	// /proc/1/exe and the rest of /proc/1 belong to no one the sandbox's
	// programs can become, and the binary's descriptor is closed.
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	// Named for ps and top, rather than the descriptor it was run from.
	if name, err := unix.BytePtrFromString("sandbox-init"); err == nil {
		_ = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(name)), 0, 0, 0)
	}
	limits := os.Getenv(rlimitsEnv)
	os.Clearenv()
	if err := setInitRlimits(limits); err != nil {
		// Never serve without them.
		return 2
	}
	runtime.GOMAXPROCS(1)
	debug.SetGCPercent(50)
	sockFD, exeFD, ok := strings.Cut(spec, ",")
	if n, err := strconv.Atoi(exeFD); ok && err == nil {
		_ = unix.Close(n)
	}
	n, err := strconv.Atoi(sockFD)
	if err != nil {
		return 2
	}
	unix.CloseOnExec(n)
	conn, err := initproto.NewConn(os.NewFile(uintptr(n), "init"))
	if err != nil {
		return 2
	}
	in := &sandboxInit{
		conn:  conn,
		execs: map[int]uint64{}, byID: map[uint64]int{}, bg: map[int]bool{}, viaShell: map[uint64]bool{},
		pid1:    os.Getpid() == 1,
		started: make(chan struct{}, 1),
	}
	in.self = readSelfState()
	in.places = readPlaces()
	in.net = openNetFiles()
	go in.reaper()
	in.reply(&initproto.Msg{Op: initproto.OpReady})
	for {
		m, files, err := in.conn.Recv()
		if err != nil {
			// The provider is gone: as the sandbox's PID 1, returning
			// ends every process in it; without namespaces, end the
			// executions' sessions first.
			in.mu.Lock()
			for pid := range in.execs {
				_ = unix.Kill(-pid, unix.SIGKILL)
			}
			for pid := range in.bg {
				_ = unix.Kill(-pid, unix.SIGKILL)
			}
			in.mu.Unlock()
			return 0
		}
		in.handle(m, files)
		initproto.CloseFiles(files)
	}
}

// setInitRlimits sets the init's rlimits, soft and hard, from spec
// ("<file size bytes>,<open files>"), and no core dumps: every process it
// starts inherits them and cannot raise them. syscall.Setrlimit, unlike
// a raw prlimit, also tells the runtime not to give children back the
// open-files limit the process started with.
func setInitRlimits(spec string) error {
	fsize, nofile, ok := strings.Cut(spec, ",")
	f, err1 := strconv.ParseUint(fsize, 10, 64)
	n, err2 := strconv.ParseUint(nofile, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return fmt.Errorf("rlimits %q", spec)
	}
	for _, l := range []struct {
		resource int
		max      uint64
	}{{syscall.RLIMIT_FSIZE, f}, {syscall.RLIMIT_NOFILE, n}, {syscall.RLIMIT_CORE, 0}} {
		if err := syscall.Setrlimit(l.resource, &syscall.Rlimit{Cur: l.max, Max: l.max}); err != nil {
			return err
		}
	}
	return nil
}

func (in *sandboxInit) reply(m *initproto.Msg) {
	_ = in.conn.Send(m)
}

func (in *sandboxInit) handle(m *initproto.Msg, files []*os.File) {
	switch m.Op {
	case initproto.OpStart:
		in.start(m, files)
	case initproto.OpSignal:
		in.mu.Lock()
		pid, ok := in.byID[m.ID]
		in.mu.Unlock()
		if ok {
			// The program leads its own session and process group.
			_ = unix.Kill(-pid, syscall.Signal(m.Signal))
		}
	case initproto.OpProcs:
		if !in.pid1 {
			in.reply(&initproto.Msg{Op: initproto.OpError, ID: m.ID, Error: "processes are listed only in sandboxes with namespaces"})
			return
		}
		in.reply(&initproto.Msg{Op: initproto.OpReply, ID: m.ID, Procs: in.procs()})
	case initproto.OpKillPID:
		r := &initproto.Msg{Op: initproto.OpReply, ID: m.ID}
		in.mu.Lock()
		leader := in.bg[m.PID]
		in.mu.Unlock()
		switch {
		case m.PID <= 1 || !in.pid1:
			r.Error = "no such process"
		case leader:
			// A background program leads its session: end its group.
			_ = unix.Kill(-m.PID, syscall.Signal(m.Signal))
		default:
			if err := unix.Kill(m.PID, syscall.Signal(m.Signal)); err != nil {
				r.Error = err.Error()
			}
		}
		in.reply(r)
	case initproto.OpKillAll:
		r := &initproto.Msg{Op: initproto.OpReply, ID: m.ID}
		if !in.pid1 {
			r.Error = "processes are killed only in sandboxes with namespaces"
		} else if err := in.killAll(time.Now().Add(resetBudget)); err != nil {
			r.Error = err.Error()
		}
		in.reply(r)
	case initproto.OpReset:
		r := &initproto.Msg{Op: initproto.OpReply, ID: m.ID}
		if err := in.reset(m.Dirs); err != nil {
			r.Error = err.Error()
		}
		in.reply(r)
	default:
		in.reply(&initproto.Msg{Op: initproto.OpError, ID: m.ID, Error: "unknown operation " + strconv.Quote(m.Op)})
	}
}

// start starts one program in a session of its own. The lock is held
// across the fork so that the reaper, which takes it too, always finds the
// PID registered.
func (in *sandboxInit) start(m *initproto.Msg, files []*os.File) {
	fail := func(notFound bool, err error) {
		in.reply(&initproto.Msg{Op: initproto.OpError, ID: m.ID, Error: err.Error(), NotFound: notFound})
	}
	if len(m.Argv) == 0 {
		fail(false, fmt.Errorf("no program"))
		return
	}
	// Argv, or the shell form of the same command when there is one and
	// argv's program cannot be started: the shell then runs it, or says
	// why not, as it always would.
	argv, env, viaShell := m.Argv, m.Env, false
	path, err := lookPathEnv(argv[0], env)
	if err != nil && len(m.Shell) > 0 {
		argv, env, viaShell = m.Shell, m.ShellEnv, true
		path, err = lookPathEnv(argv[0], env)
	}
	if err != nil {
		fail(true, err)
		return
	}
	var fds []uintptr
	var master *os.File // with TTY, sent back with started
	switch {
	case m.Background && len(in.bgCount()) >= maxBackground:
		fail(false, fmt.Errorf("at most %d background processes", maxBackground))
		return
	case m.Background:
		null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		if err != nil {
			fail(false, err)
			return
		}
		defer null.Close()
		fds = []uintptr{null.Fd(), null.Fd(), null.Fd()}
		env = append(slices.Clone(env), backgroundEnv+"=1")
	case m.TTY:
		ptmx, tty, err := pty.Open()
		if err != nil {
			fail(false, err)
			return
		}
		defer ptmx.Close()
		defer tty.Close()
		if err := pty.Setsize(ptmx, &pty.Winsize{Cols: m.Cols, Rows: m.Rows}); err != nil {
			fail(false, err)
			return
		}
		master = ptmx
		fds = []uintptr{tty.Fd(), tty.Fd(), tty.Fd()}
	case len(files) == 3:
		fds = []uintptr{files[0].Fd(), files[1].Fd(), files[2].Fd()}
	default:
		fail(false, fmt.Errorf("expected standard streams"))
		return
	}
	attr := &syscall.ProcAttr{
		Dir:   m.Dir,
		Env:   env,
		Files: fds,
		Sys:   &syscall.SysProcAttr{Setsid: true, Setctty: m.TTY && !m.Background, Ctty: 0},
	}
	in.mu.Lock()
	pid, err := syscall.ForkExec(path, argv, attr)
	if err != nil && !viaShell && len(m.Shell) > 0 {
		// A program the kernel does not run (a script without #!).
		if sh, lerr := lookPathEnv(m.Shell[0], m.ShellEnv); lerr == nil {
			attr.Env, viaShell = m.ShellEnv, true
			pid, err = syscall.ForkExec(sh, m.Shell, attr)
		}
	}
	if err != nil {
		in.mu.Unlock()
		fail(false, err)
		return
	}
	if m.Background {
		in.bg[pid] = true
		in.bgStarted = true
	} else {
		in.execs[pid] = m.ID
		in.byID[m.ID] = pid
		in.running++
		if viaShell {
			in.viaShell[m.ID] = true
		}
	}
	select {
	case in.started <- struct{}{}:
	default:
	}
	// Under memory pressure the kernel picks a program before the init
	// that serves the sandbox.
	_ = os.WriteFile("/proc/"+strconv.Itoa(pid)+"/oom_score_adj", []byte("500"), 0)
	// An execution's only answer is its exit; a terminal or a
	// background program is reported started (with its PID, and the
	// terminal's master). Still under the lock: the reaper, which takes
	// it to find the PID, reports a program's exit only after its start.
	switch {
	case master != nil:
		_ = in.conn.Send(&initproto.Msg{Op: initproto.OpStarted, ID: m.ID, PID: pid}, master)
	case m.Background:
		in.reply(&initproto.Msg{Op: initproto.OpStarted, ID: m.ID, PID: pid})
	}
	in.mu.Unlock()
}

// bgCount returns the background programs' PIDs.
func (in *sandboxInit) bgCount() []int {
	in.mu.Lock()
	defer in.mu.Unlock()
	pids := make([]int, 0, len(in.bg))
	for p := range in.bg {
		pids = append(pids, p)
	}
	return pids
}

// reaper waits for children to exit and reaps them. It blocks in waitid
// rather than waiting for SIGCHLD: a child's exit wakes the thread that
// reaps it and reports the exit, where the signal went through the
// runtime's signal handling thread and the os/signal goroutine first.
// In interleaved runs of session executions of `true` it answered about
// 0.07 ms sooner.
func (in *sandboxInit) reaper() {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOWAIT, nil)
		switch {
		case err == nil:
			in.reap()
		case errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.ECHILD):
			// None until the next start.
			<-in.started
		default:
			// Not expected; never spin on it.
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// reap collects every child that has exited. When an execution's program
// exits, its process group is killed, and when it was the last execution
// running, every other process that is not a background one: what an
// execution leaves behind does not outlive it. Only then is its exit
// reported, so that nothing it left runs once its result is known.
func (in *sandboxInit) reap() {
	for {
		var ws syscall.WaitStatus
		var ru syscall.Rusage
		in.mu.Lock()
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, &ru)
		if err != nil || pid <= 0 {
			in.mu.Unlock()
			return
		}
		delete(in.bg, pid)
		id, ok := in.execs[pid]
		if !ok {
			in.mu.Unlock()
			continue
		}
		delete(in.execs, pid)
		delete(in.byID, id)
		viaShell := in.viaShell[id]
		delete(in.viaShell, id)
		in.running--
		_ = unix.Kill(-pid, unix.SIGKILL)
		if in.running == 0 && in.pid1 {
			// Under the lock: no execution starts while it runs.
			in.killLeftovers(in.bgStarted)
		}
		in.mu.Unlock()
		in.reply(&initproto.Msg{
			Op: initproto.OpExit, ID: id, Status: int(ws), ViaShell: viaShell,
			CPU:    ru.Utime.Nano() + ru.Stime.Nano(),
			MaxRSS: int64(ru.Maxrss) << 10,
		})
	}
}

// killLeftovers kills every process of the sandbox but this init and,
// once a background program has been started, the background programs
// and their descendants (found by their session or their environment's
// marker, so also after the program itself has exited). Only a PID 1 may
// call it.
func (in *sandboxInit) killLeftovers(background bool) {
	if !in.pid1 {
		return
	}
	if !background {
		// Everything this process may signal, except itself: the whole
		// sandbox, atomically (no fork escapes it).
		_ = unix.Kill(-1, unix.SIGKILL)
		return
	}
	for round := 0; round < 64; round++ {
		killed := 0
		for _, p := range listPIDs() {
			if p == 1 || in.isBackground(p) {
				continue
			}
			if unix.Kill(p, unix.SIGKILL) == nil {
				killed++
			}
		}
		if killed == 0 {
			return
		}
	}
}

// listPIDs lists the sandbox's processes from its own /proc, read through
// a descriptor kept open (procDir): a walk of /proc and an open and close
// fewer at each of the reset's checks.
func listPIDs() []int {
	procDir.Lock()
	defer procDir.Unlock()
	if procDir.fd == 0 {
		fd, err := unix.Open("/proc", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil
		}
		procDir.fd = fd + 1
	}
	names, err := readNames(procDir.fd - 1)
	if err != nil {
		return nil
	}
	pids := make([]int, 0, len(names))
	for _, n := range names {
		if p, err := strconv.Atoi(n); err == nil {
			pids = append(pids, p)
		}
	}
	return pids
}

// procDir is the init's descriptor of /proc (fd + 1; 0 until opened).
var procDir struct {
	sync.Mutex
	fd int
}

// isBackground reports whether a process belongs to a background
// program: it is in the session of one that runs (its leader is one, and
// the session ID survives every exec), or it carries the marker in its
// environment (a descendant that left the session, or one whose leader
// has exited). The caller holds in.mu. A process whose environment cannot
// be read, or reads empty while an exec replaces it, is found by its
// session only.
func (in *sandboxInit) isBackground(pid int) bool {
	if st, ok := readStat(pid); ok && in.bg[st.sid] {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	for _, kv := range bytes.Split(b, []byte{0}) {
		if string(kv) == backgroundEnv+"=1" {
			return true
		}
	}
	return false
}

// procStat is what the init reads of a process's /proc/<pid>/stat.
type procStat struct {
	comm      string
	state     string
	ppid, sid int
}

// readStat reads /proc/<pid>/stat: "pid (comm) state ppid pgrp session
// ...", where comm may hold spaces and parentheses.
func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return procStat{}, false
	}
	fields := strings.Fields(s[end+1:])
	if len(fields) < 4 {
		return procStat{}, false
	}
	ppid, err1 := strconv.Atoi(fields[1])
	sid, err2 := strconv.Atoi(fields[3])
	if err1 != nil || err2 != nil {
		return procStat{}, false
	}
	return procStat{comm: s[open+1 : end], state: fields[0], ppid: ppid, sid: sid}, true
}

// procs lists the sandbox's processes but init.
func (in *sandboxInit) procs() []initproto.Proc {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []initproto.Proc
	for _, p := range listPIDs() {
		if p == 1 {
			continue
		}
		st, ok := readStat(p)
		if !ok {
			continue
		}
		cmd, _ := os.ReadFile("/proc/" + strconv.Itoa(p) + "/cmdline")
		command := strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " "))
		if command == "" {
			command = "[" + st.comm + "]"
		}
		out = append(out, initproto.Proc{PID: p, PPID: st.ppid, Command: command, Background: in.isBackground(p), State: st.state})
	}
	return out
}

// lookPathEnv finds a program in the PATH of env, as a shell would.
func lookPathEnv(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	path := initproto.DefaultPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if unix.Access(p, unix.X_OK) == nil {
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("%s: not found", name)
}

//go:build linux

// Package cgroups holds the sandboxes' cgroups, on cgroup v1 or v2: their
// limits (memory, processes, CPU), their counters, and how their
// processes are killed and the groups removed.
package cgroups

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/containerd/cgroups/v3"
	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
	"golang.org/x/sys/unix"
)

// Limits are the cgroup limits of one sandbox (zero: none).
type Limits struct {
	MemoryBytes int64
	Pids        int64
	CPUCores    float64
}

// Counters are cumulative cgroup readings.
type Counters struct {
	CPU      time.Duration
	Peak     int64
	OOMKills uint64 // processes the memory limit killed
	PidsMax  uint64 // forks the process limit refused
}

// Driver creates sandbox cgroups on the cgroup version the host has.
type Driver interface {
	// Version is 1 or 2.
	Version() int
	// Create makes the cgroup at rel (relative to the hierarchy root).
	Create(rel string, lim Limits) (Group, error)
	// Paths returns the host directories of rel, one per hierarchy.
	Paths(rel string) []string
}

// Group is one sandbox's cgroup.
type Group interface {
	// Add moves process pid into the group.
	Add(pid int) error
	// Read returns the group's counters.
	Read() Counters
	// Memory is the memory the group uses now, in bytes.
	Memory() int64
	// ResetPeak starts the peak memory counter afresh, where the
	// kernel allows it (cgroup v1).
	ResetPeak()
	// Kill kills every process of the group.
	Kill() error
	// Remove kills what is left in the group and deletes it.
	Remove() error
	// Count is how many processes the group holds.
	Count() (int, error)
	// SetLimits gives the group lim. Limits the group holds already, as
	// Create or SetLimits last wrote them, are not written again: nothing
	// else writes a sandbox's cgroup files (its processes have no cgroup
	// filesystem, and the files are root's).
	SetLimits(lim Limits) error
	// SetBulk gives the group a small CPU weight (bulk) or the default
	// one: the weight decides the share of the CPUs the group's programs
	// get while the CPUs are short, never a limit. Only a change is
	// written.
	SetBulk(bulk bool) error
}

// The CPU weights of SetBulk: the kernel's default, and an eighth of it.
const (
	sharesDefault, sharesBulk = 1024, 128 // cgroup v1 cpu.shares
	weightDefault, weightBulk = 100, 12   // cgroup v2 cpu.weight
)

// NewDriver picks the driver for the host, or an error saying why
// cgroups cannot be used.
func NewDriver() (Driver, error) {
	switch cgroups.Mode() {
	case cgroups.Unified:
		return v2Driver{mount: "/sys/fs/cgroup"}, nil
	case cgroups.Legacy, cgroups.Hybrid:
		all, err := cgroup1.Default()
		if err != nil {
			return nil, fmt.Errorf("cgroup v1 hierarchy: %w", err)
		}
		want := map[cgroup1.Name]bool{cgroup1.Memory: true, cgroup1.Pids: true, cgroup1.Cpu: true, cgroup1.Cpuacct: true, cgroup1.Freezer: true}
		var subs []cgroup1.Subsystem
		for _, s := range all {
			if want[s.Name()] {
				subs = append(subs, s)
				delete(want, s.Name())
			}
		}
		if want[cgroup1.Memory] || want[cgroup1.Pids] {
			return nil, errors.New("cgroup v1: the memory and pids controllers must be mounted")
		}
		return v1Driver{subs: subs}, nil
	default:
		return nil, errors.New("no cgroup filesystem is mounted at /sys/fs/cgroup")
	}
}

// cpuQuota converts cores to a CFS quota for a 100 ms period.
func cpuQuota(cores float64) (quota int64, period uint64) {
	period = 100_000
	return int64(cores * float64(period)), period
}

// ---- cgroup v1 ----

type v1Driver struct{ subs []cgroup1.Subsystem }

type pather interface{ Path(string) string }

func (d v1Driver) Version() int { return 1 }

func (d v1Driver) Paths(rel string) []string {
	out := make([]string, 0, len(d.subs))
	for _, s := range d.subs {
		if p, ok := s.(pather); ok {
			out = append(out, p.Path(rel))
		}
	}
	return out
}

func (d v1Driver) path(rel string, name cgroup1.Name) string {
	for _, s := range d.subs {
		if s.Name() == name {
			if p, ok := s.(pather); ok {
				return p.Path(rel)
			}
		}
	}
	return ""
}

// create makes the group's directory in each hierarchy and writes its
// limits with plain system calls (see readFile). containerd's cgroup1.New
// does the same through os.MkdirAll and os.WriteFile, with about three
// times the system calls, on the path of every cold sandbox; the library
// still moves, freezes and thaws the group's processes (lib).
func (d v1Driver) Create(rel string, lim Limits) (Group, error) {
	g := &v1Group{rel: rel, subs: d.subs, dirs: d.Paths(rel), hier: d.v1Hierarchies(rel), pidsLimit: lim.Pids,
		mem: d.path(rel, cgroup1.Memory), pids: d.path(rel, cgroup1.Pids), cpuacct: d.path(rel, cgroup1.Cpuacct)}
	var made []string
	fail := func(err error) (Group, error) {
		for _, dir := range slices.Backward(made) {
			_ = syscall.Rmdir(dir)
		}
		return nil, fmt.Errorf("cgroup v1 create %s: %w", rel, err)
	}
	for _, h := range g.hier {
		err := unix.Mkdir(h.dir, 0o755)
		if errors.Is(err, unix.ENOENT) {
			// The provider's first group: its parents too.
			if err = os.MkdirAll(filepath.Dir(h.dir), 0o755); err == nil {
				err = unix.Mkdir(h.dir, 0o755)
			}
		}
		switch {
		case err == nil:
			made = append(made, h.dir)
		case !errors.Is(err, unix.EEXIST):
			return fail(&os.PathError{Op: "mkdir", Path: h.dir, Err: err})
		}
	}
	g.cpu = d.path(rel, cgroup1.Cpu)
	if err := g.SetLimits(lim); err != nil {
		return fail(err)
	}
	g.fresh.Store(true)
	return g, nil
}

// SetLimits implements Group: the limits that are set, written unless
// the group holds them already.
func (g *v1Group) SetLimits(lim Limits) error {
	if g.held.has(lim) {
		return nil
	}
	var settings [][2]string
	if lim.MemoryBytes > 0 {
		settings = append(settings, [2]string{filepath.Join(g.mem, "memory.limit_in_bytes"), strconv.FormatInt(lim.MemoryBytes, 10)})
	}
	if lim.Pids > 0 {
		settings = append(settings, [2]string{filepath.Join(g.pids, "pids.max"), strconv.FormatInt(lim.Pids, 10)})
	}
	if lim.CPUCores > 0 && g.cpu != "" {
		q, p := cpuQuota(lim.CPUCores)
		settings = append(settings,
			[2]string{filepath.Join(g.cpu, "cpu.cfs_period_us"), strconv.FormatUint(p, 10)},
			[2]string{filepath.Join(g.cpu, "cpu.cfs_quota_us"), strconv.FormatInt(q, 10)})
	}
	for _, kv := range settings {
		if err := writeFile(kv[0], []byte(kv[1])); err != nil {
			g.held.forget()
			return err
		}
	}
	g.held.set(lim)
	return nil
}

// SetBulk implements Group, through cpu.shares; a group outside the
// cpu hierarchy has no weight to set.
func (g *v1Group) SetBulk(bulk bool) error {
	if g.cpu == "" {
		return nil
	}
	return g.bulk.set(bulk, func(bulk bool) error {
		s := sharesDefault
		if bulk {
			s = sharesBulk
		}
		return writeFile(filepath.Join(g.cpu, "cpu.shares"), []byte(strconv.Itoa(s)))
	})
}

// Count implements Group: from the group's cgroup.procs, kept open,
// where it reads whole.
func (g *v1Group) Count() (int, error) {
	if b, ok := g.counterFiles.readWhole(cProcs, filepath.Join(g.dirs[0], "cgroup.procs")); ok {
		return countPIDs(b), nil
	}
	procs, err := g.procs()
	return len(procs), err
}

type v1Group struct {
	rel                string
	subs               []cgroup1.Subsystem
	dirs               []string      // the group's directory in each hierarchy
	hier               []v1Hierarchy // the same, each once, with where each is mounted (join.go)
	pidsLimit          int64
	fresh              atomic.Bool // no process entered the group yet
	mem, pids, cpuacct string
	cpu                string // the cpu hierarchy's directory, or ""

	counterFiles counterFiles
	held         heldLimits
	bulk         bulkWeight

	libOnce sync.Once
	libCg   cgroup1.Cgroup
	libErr  error
}

// lib returns containerd's handle on the group, loaded on first use.
func (g *v1Group) lib() (cgroup1.Cgroup, error) {
	g.libOnce.Do(func() {
		g.libCg, g.libErr = cgroup1.Load(cgroup1.StaticPath(g.rel),
			cgroup1.WithHierarchy(func() ([]cgroup1.Subsystem, error) { return g.subs, nil }))
	})
	return g.libCg, g.libErr
}

func (g *v1Group) Add(pid int) error {
	g.fresh.Store(false)
	cg, err := g.lib()
	if err != nil {
		return err
	}
	return cg.AddProc(uint64(pid))
}

func (g *v1Group) Read() Counters {
	var c Counters
	if g.fresh.Load() {
		return c // nothing ever ran in it
	}
	c.Peak = int64(parseUint(g.counterFiles.read(cPeak, filepath.Join(g.mem, "memory.max_usage_in_bytes"))))
	c.OOMKills = parseKey(g.counterFiles.read(cOOM, filepath.Join(g.mem, "memory.oom_control")), "oom_kill")
	c.PidsMax = parseKey(g.counterFiles.read(cPids, filepath.Join(g.pids, "pids.events")), "max")
	if g.cpuacct != "" {
		c.CPU = time.Duration(parseUint(g.counterFiles.read(cCPU, filepath.Join(g.cpuacct, "cpuacct.usage"))))
	}
	return c
}

func (g *v1Group) Memory() int64 {
	return int64(parseUint(g.counterFiles.read(cUsage, filepath.Join(g.mem, "memory.usage_in_bytes"))))
}

func (g *v1Group) ResetPeak() {
	if g.fresh.Load() {
		return
	}
	g.counterFiles.write(cPeak, filepath.Join(g.mem, "memory.max_usage_in_bytes"), []byte("0"))
}

// procs lists the group's processes, from the first hierarchy that still
// has the group. A sandbox makes no groups below its own (it has no
// cgroup filesystem), so one file holds them all.
func (g *v1Group) procs() ([]int, error) {
	err := os.ErrNotExist
	for _, dir := range g.dirs {
		b, rerr := readFile(filepath.Join(dir, "cgroup.procs"))
		if rerr != nil {
			err = rerr
			continue
		}
		return parsePIDs(b), nil
	}
	return nil, err
}

// parsePIDs parses a cgroup.procs file. A thread of the server that
// joined the group to start its first process (join.go) makes it list
// the server, which is left out.
func parsePIDs(b []byte) []int {
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
			pids = append(pids, pid)
		}
	}
	return pids
}

// countPIDs is len(parsePIDs(b)).
func countPIDs(b []byte) int { return len(parsePIDs(b)) }

// kill kills every process of the group: with a signal each, and, when
// a process appeared meanwhile, again with the group frozen so that
// nothing can fork, then thawed so that the kills are delivered.
func (g *v1Group) Kill() error {
	procs, err := g.procs()
	if err == nil && len(procs) == 0 {
		return nil
	}
	// Mostly the processes are on their way out already (their PID
	// namespace ended with bwrap): a signal each, and no freeze, which
	// waits for every one of them to stop. Only a process that was not
	// there before the signals (one forked meanwhile) calls for the
	// freezer, which holds them all still while they are killed.
	killed := map[int]bool{}
	for _, pid := range procs {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		killed[pid] = true
	}
	if after, err := g.procs(); err == nil && !slices.ContainsFunc(after, func(pid int) bool { return !killed[pid] }) {
		return nil
	}
	cg, err := g.lib()
	frozen := err == nil && cg.Freeze() == nil
	procs, err = g.procs()
	for _, pid := range procs {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if frozen {
		_ = cg.Thaw()
	}
	return err
}

func (g *v1Group) Remove() error {
	g.counterFiles.close()
	return removeWhenEmpty(func() (int, error) {
		procs, err := g.procs()
		return len(procs), err
	}, g.Kill, g.rmdirs)
}

// rmdirs deletes the group's directory in every hierarchy. The kernel
// may still count a process that has just exited (EBUSY): it is tried
// again, for at most about a third of a second.
func (g *v1Group) rmdirs() error {
	for delay := 10 * time.Millisecond; ; delay *= 2 {
		var errs []error
		busy := false
		for _, dir := range g.dirs {
			if err := syscall.Rmdir(dir); err != nil && !errors.Is(err, syscall.ENOENT) {
				busy = busy || errors.Is(err, syscall.EBUSY)
				errs = append(errs, fmt.Errorf("remove cgroup %s: %w", dir, err))
			}
		}
		if len(errs) == 0 || !busy || delay > 160*time.Millisecond {
			return errors.Join(errs...)
		}
		time.Sleep(delay)
	}
}

// ---- cgroup v2 ----

type v2Driver struct{ mount string }

func (d v2Driver) Version() int { return 2 }

func (d v2Driver) Paths(rel string) []string { return []string{filepath.Join(d.mount, rel)} }

func (d v2Driver) Create(rel string, lim Limits) (Group, error) {
	res := &cgroup2.Resources{}
	if lim.MemoryBytes > 0 {
		m := lim.MemoryBytes
		res.Memory = &cgroup2.Memory{Max: &m}
	}
	if lim.Pids > 0 {
		res.Pids = &cgroup2.Pids{Max: lim.Pids}
	}
	if lim.CPUCores > 0 {
		q, p := cpuQuota(lim.CPUCores)
		res.CPU = &cgroup2.CPU{Max: cgroup2.NewCPUMax(&q, &p)}
	}
	m, err := cgroup2.NewManager(d.mount, path.Clean("/"+rel), res)
	if err != nil {
		return nil, fmt.Errorf("cgroup v2 create %s: %w", rel, err)
	}
	dir := filepath.Join(d.mount, rel)
	if lim.MemoryBytes > 0 {
		// No swap, so the memory cap is the cap; best effort, as
		// memory.swap.max exists only where the kernel accounts swap.
		_ = os.WriteFile(filepath.Join(dir, "memory.swap.max"), []byte("0"), 0)
	}
	g := &v2Group{m: m, dir: dir, peakFD: -1}
	g.held.set(lim)
	return g, nil
}

type v2Group struct {
	m   *cgroup2.Manager
	dir string

	// peakFD is memory.peak opened by ResetPeak, through which the peak
	// since the last reset reads (kernels >= 6.12); -1 before one, or
	// where the kernel has no reset.
	peakMu  sync.Mutex
	peakFD  int
	noReset bool

	held  heldLimits
	procs counterFiles // cgroup.procs alone, as cProcs
	bulk  bulkWeight
}

// SetBulk implements Group, through cpu.weight.
func (g *v2Group) SetBulk(bulk bool) error {
	return g.bulk.set(bulk, func(bulk bool) error {
		w := weightDefault
		if bulk {
			w = weightBulk
		}
		return writeFile(filepath.Join(g.dir, "cpu.weight"), []byte(strconv.Itoa(w)))
	})
}

func (g *v2Group) Add(pid int) error { return g.m.AddProc(uint64(pid)) }

// SetLimits implements Group: the limits that are set, written unless
// the group holds them already.
func (g *v2Group) SetLimits(lim Limits) error {
	if g.held.has(lim) {
		return nil
	}
	var settings [][2]string
	if lim.MemoryBytes > 0 {
		settings = append(settings, [2]string{"memory.max", strconv.FormatInt(lim.MemoryBytes, 10)})
	}
	if lim.Pids > 0 {
		settings = append(settings, [2]string{"pids.max", strconv.FormatInt(lim.Pids, 10)})
	}
	if lim.CPUCores > 0 {
		q, p := cpuQuota(lim.CPUCores)
		settings = append(settings, [2]string{"cpu.max", strconv.FormatInt(q, 10) + " " + strconv.FormatUint(p, 10)})
	}
	for _, kv := range settings {
		if err := writeFile(filepath.Join(g.dir, kv[0]), []byte(kv[1])); err != nil {
			g.held.forget()
			return err
		}
	}
	g.held.set(lim)
	return nil
}

// Count implements Group: from the group's cgroup.procs, kept open,
// where it reads whole (a sandbox makes no groups below its own).
func (g *v2Group) Count() (int, error) {
	if b, ok := g.procs.readWhole(cProcs, filepath.Join(g.dir, "cgroup.procs")); ok {
		return countPIDs(b), nil
	}
	procs, err := g.m.Procs(true)
	return len(procs), err
}

func (g *v2Group) Read() Counters {
	var c Counters
	c.Peak = g.readPeak()
	c.OOMKills = readKey(filepath.Join(g.dir, "memory.events"), "oom_kill")
	c.PidsMax = readKey(filepath.Join(g.dir, "pids.events"), "max")
	c.CPU = time.Duration(readKey(filepath.Join(g.dir, "cpu.stat"), "usage_usec")) * time.Microsecond
	return c
}

func (g *v2Group) Memory() int64 {
	return int64(readUint(filepath.Join(g.dir, "memory.current")))
}

// ResetPeak starts the peak afresh where the kernel can (6.12 and
// later): a write to memory.peak resets the peak read through the same
// descriptor, which Read uses from then on. Elsewhere the peak is the
// group's since it was made.
func (g *v2Group) ResetPeak() {
	g.peakMu.Lock()
	defer g.peakMu.Unlock()
	if g.noReset {
		return
	}
	if g.peakFD < 0 {
		fd, err := unix.Open(filepath.Join(g.dir, "memory.peak"), unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			g.noReset = true
			return
		}
		g.peakFD = fd
	}
	_, err := unix.Pwrite(g.peakFD, []byte("reset\n"), 0)
	for err == unix.EINTR {
		_, err = unix.Pwrite(g.peakFD, []byte("reset\n"), 0)
	}
	if err != nil {
		_ = unix.Close(g.peakFD)
		g.peakFD, g.noReset = -1, true
	}
}

// readPeak reads the peak since the last reset, else since the group
// was made.
func (g *v2Group) readPeak() int64 {
	g.peakMu.Lock()
	defer g.peakMu.Unlock()
	if g.peakFD >= 0 {
		var buf [32]byte
		n, err := unix.Pread(g.peakFD, buf[:], 0)
		for err == unix.EINTR {
			n, err = unix.Pread(g.peakFD, buf[:], 0)
		}
		if err == nil && n > 0 {
			return int64(parseUint(buf[:n]))
		}
	}
	return int64(readUint(filepath.Join(g.dir, "memory.peak")))
}

func (g *v2Group) Kill() error { return g.m.Kill() }

func (g *v2Group) Remove() error {
	g.procs.close()
	g.peakMu.Lock()
	if g.peakFD >= 0 {
		_ = unix.Close(g.peakFD)
		g.peakFD = -1
	}
	g.noReset = true
	g.peakMu.Unlock()
	return removeWhenEmpty(func() (int, error) {
		procs, err := g.m.Procs(true)
		return len(procs), err
	}, g.Kill, g.m.Delete)
}

// removeWhenEmpty kills what is left in a group, waits (bounded) for the
// kernel to finish tearing the processes down, then deletes the group.
func removeWhenEmpty(count func() (int, error), kill, del func() error) error {
	deadline := time.Now().Add(5 * time.Second)
	for backoff := time.Millisecond; ; backoff = min(backoff*2, 50*time.Millisecond) {
		n, err := count()
		if err != nil && errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup still has %d processes after kill", n)
		}
		_ = kill()
		time.Sleep(backoff)
	}
	return del()
}

// readFile reads a small control file with plain system calls: the os
// package would register each descriptor with the runtime's poller first,
// which costs more than the read (cgroup files can be polled).
func readFile(file string) ([]byte, error) {
	fd, err := unix.Open(file, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: file, Err: err}
	}
	defer unix.Close(fd)
	buf := make([]byte, 0, 512)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: file, Err: err}
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}

// writeFile writes a control file with plain system calls (see readFile).
// A write the runtime's preemption signal interrupts (EINTR: a memory
// limit's write reclaims, and may be interrupted) is made again.
func writeFile(file string, data []byte) error {
	fd, err := unix.Open(file, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	for err == unix.EINTR {
		fd, err = unix.Open(file, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: file, Err: err}
	}
	defer unix.Close(fd)
	_, err = unix.Write(fd, data)
	for err == unix.EINTR {
		_, err = unix.Write(fd, data)
	}
	if err != nil {
		return &os.PathError{Op: "write", Path: file, Err: err}
	}
	return nil
}

func readUint(file string) uint64 {
	b, _ := readFile(file)
	return parseUint(b)
}

// parseUint parses a control file holding one number (0 when it does not).
func parseUint(b []byte) uint64 {
	v, _ := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
	return v
}

// readKey reads "key value" lines (memory.events, cpu.stat, ...).
func readKey(file, key string) uint64 {
	b, _ := readFile(file)
	return parseKey(b, key)
}

// parseKey returns the value of key in "key value" lines (0 without it).
func parseKey(b []byte, key string) uint64 {
	for line := range bytes.Lines(b) {
		k, v, ok := bytes.Cut(bytes.TrimSpace(line), []byte{' '})
		if ok && string(k) == key {
			n, _ := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64)
			return n
		}
	}
	return 0
}

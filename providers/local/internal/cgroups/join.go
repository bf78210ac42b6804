//go:build linux

package cgroups

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// A process is born in the cgroups of the thread that forks it. On
// cgroup v1 a thread may move itself alone into a group, by writing "0"
// to a hierarchy's tasks file, and the kernel does that without the lock
// that moving a process (or any other task) takes: a lock whose writer
// waits for an RCU grace period when no writer took it in the last few
// milliseconds. Moving a sandbox's first process into its group once
// bwrap had started it cost 12 ms at the median when sandboxes were made
// 100 ms apart on this project's machine kind (2 cores, cgroup v1), and a
// thread's move in and out well under a millisecond: so a sandbox's first
// process is started from a thread of the server that joined the
// sandbox's group for that moment (the provider's nsThreads.start), and
// bwrap's monitor and its child are born confined.
//
// What a thread of the server in a sandbox's group could cost is
// bounded: only a group no process ever entered is joined (it holds no
// memory charge to reclaim and no process to freeze or kill); the thread
// is never the server's thread-group leader, which the kernel's
// out-of-memory killer would take for a process of the group; a group's
// process list never names the server's own process (procs); the thread
// leaves as soon as the fork returned, and a thread that cannot leave
// ends.

// Joiner is a group that the calling thread can join.
type Joiner interface {
	Group
	// Join moves the calling thread, locked to its goroutine, into the
	// group in every hierarchy, and returns what moves it back to the
	// groups it was in. It fails when the group was joined or entered
	// before, or leaves too little room for a fork under its process
	// cap; when it fails having moved the thread part of the way, leave
	// is not nil and must be called.
	Join() (leave func() error, err error)
}

// ErrJoinRefused: the group cannot be joined (it is not new, or its
// process cap is too low); its first process is moved in instead.
var ErrJoinRefused = errors.New("cgroup: not joined")

// minJoinPids is the least process cap under which a thread joins a
// group: the thread, bwrap's monitor and the sandbox's first process
// may be counted together for a moment.
const minJoinPids = 4

// v1Hierarchy is one cgroup v1 hierarchy of a group.
type v1Hierarchy struct {
	names []string // its controllers, as /proc/<pid>/cgroup names them
	root  string   // where the hierarchy is mounted
	dir   string   // the group's directory in it
}

// Join implements Joiner.
func (g *v1Group) Join() (func() error, error) {
	if g.pidsLimit > 0 && g.pidsLimit < minJoinPids || !g.fresh.CompareAndSwap(true, false) {
		return nil, ErrJoinRefused
	}
	home, err := threadCgroups()
	if err != nil {
		return nil, err
	}
	var back []string
	leave := func() error {
		var errs []error
		for _, f := range back {
			if err := writeFile(f, []byte("0")); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	for _, h := range g.hier {
		rel, ok := "", false
		for _, name := range h.names {
			if rel, ok = home[name]; ok {
				break
			}
		}
		if !ok {
			return leave, fmt.Errorf("cgroup: the thread's %s Group is unknown", strings.Join(h.names, ","))
		}
		back = append(back, filepath.Join(h.root, rel, "tasks"))
		if err := writeFile(filepath.Join(h.dir, "tasks"), []byte("0")); err != nil {
			return leave, fmt.Errorf("cgroup: join %s: %w", h.dir, err)
		}
	}
	return leave, nil
}

// threadCgroups maps each cgroup v1 controller to the calling thread's
// group in its hierarchy.
func threadCgroups() (map[string]string, error) {
	b, err := readFile("/proc/thread-self/cgroup")
	if err != nil {
		return nil, err
	}
	home := map[string]string{}
	for line := range strings.Lines(string(b)) {
		// id:controllers:path
		f := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(f) != 3 || f[1] == "" {
			continue
		}
		for _, name := range strings.Split(f[1], ",") {
			home[name] = f[2]
		}
	}
	return home, nil
}

// v1Hierarchies returns the hierarchies of group rel, each once
// (controllers mounted together share one).
func (d v1Driver) v1Hierarchies(rel string) []v1Hierarchy {
	var out []v1Hierarchy
	for _, s := range d.subs {
		p, ok := s.(pather)
		if !ok {
			continue
		}
		dir := p.Path(rel)
		if i := slices.IndexFunc(out, func(h v1Hierarchy) bool { return h.dir == dir }); i >= 0 {
			out[i].names = append(out[i].names, string(s.Name()))
			continue
		}
		out = append(out, v1Hierarchy{names: []string{string(s.Name())}, root: p.Path("/"), dir: dir})
	}
	return out
}

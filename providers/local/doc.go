// Package local is computemw's embedded default provider: isolated
// sandboxes on this Linux host, with no daemon.
//
// Each sandbox is a workspace directory plus an isolation profile applied by
// bubblewrap (bwrap) to the sandbox's init, its PID 1, from which every
// process starts (so a sandbox's namespaces are made once, and an
// execution in it costs a fork and exec). A sandbox runs its first
// execution as a bwrap process of its own, with the same profile, and
// starts its init with its second (or first terminal or background
// process); the warm pool's sandboxes have that first bwrap process set up
// ahead of demand, its shell waiting for the command (held.go). The
// profile: new user, PID, mount,
// IPC, UTS, cgroup and network namespaces; read-only system directories; the
// workspace as the only writable host directory; a size-capped tmpfs /tmp; an
// unprivileged uid with no capabilities and no further user namespaces. A
// cgroup per sandbox (v2, or v1 where that is what the host mounts) caps
// memory, processes and CPU, and measures CPU time and peak memory;
// rlimits cap file size and open files as a floor. A wall-clock timeout kills
// the whole process tree, and destroying a sandbox leaves no process,
// workspace or cgroup. Workspaces and cgroups orphaned by a crashed server
// are reclaimed when the next provider starts on the same base directory.
//
// Where bwrap is missing, [New] fails with an error naming the package to
// install. [Config.InsecureNoNamespaces] runs without namespaces for
// development only, and says so loudly in the log. The provider needs
// Linux: elsewhere the package builds, and New fails saying so.
//
// # Its parts
//
// This package is the host side: the provider, its sandboxes and what
// they run (exec.go, isolated.go, held.go, compile.go), the isolation
// profile (profile.go, bwrap.go, insecure.go), workspaces, uids and the
// warm pool. Beside it, in internal packages:
//
//   - internal/sandboxinit: the init, which runs inside each sandbox as
//     its PID 1 and starts every program of it (the server's own
//     binary; its package doc says how the binary becomes an init);
//   - internal/initproto: the messages between the provider and an init;
//   - internal/cgroups: the sandboxes' cgroups, v1 and v2;
//   - internal/seccomp: the system-call filter;
//   - internal/startgate: the start gate (Config.StartGate);
//   - internal/buildcache: the compiled languages' build cache.
//
// # Where each measure lives
//
// The profile of a process is assembled in one place, buildProfile in
// profile.go, and applied by the isolation New chose (isolation.go). Each
// measure, the code that makes it (file or internal package: functions),
// and what it protects against:
//
//	| measure | where | protects against |
//	|---|---|---|
//	| user namespace; uid 1000 inside, an unprivileged host uid outside | profile.go: bwrapArgs; bwrap.go: prepare; sandbox.go: Create | a sandbox acting as root, or as the server's uid, on the host |
//	| a host uid of its own per live sandbox (root server, Config.UIDRange) | bwrap.go: sandboxIDs, setup; uids.go: acquire, release | one sandbox using up the per-user kernel limits of the others, or signalling their processes |
//	| PID namespace whose PID 1 is the sandbox's init; --die-with-parent; what an execution leaves is killed when it ends | profile.go: bwrapArgs; internal/sandboxinit: reap, killLeftovers; spawn.go: killTree | processes that outlive their execution or their sandbox; signals to host processes |
//	| the server's binary, run as the init, out of the sandbox's reach: passed as a descriptor the init closes, the init not dumpable | initstart.go: openInitBinary, startInit; internal/sandboxinit: run | a sandbox reading the server's binary (and what is compiled into it) or tracing its init |
//	| mount namespace: read-only system directories, generated /etc, own /workspace, private /tmp, read-only root | profile.go: bwrapArgs, systemBinds; local.go: writeEtc; mountns.go: makeBase | reading host files or other sandboxes' workspaces; writing outside the workspace |
//	| network namespace unless the sandbox asks and Config.AllowNetwork | profile.go: bwrapArgs; sandbox.go: Create | reaching the host's loopback services or the network |
//	| IPC, UTS and cgroup namespaces | profile.go: bwrapArgs | sharing memory or semaphores with the host; renaming the host; seeing host cgroup paths |
//	| no capabilities, no nested user namespaces, a new session | profile.go: bwrapArgs | regaining privileges; typing into the server's terminal (TIOCSTI) |
//	| system-call filter | internal/seccomp: Program; profile.go: bwrapArgs | kernel attack surface: keyrings, io_uring, eBPF, perf, userfaultfd, mount APIs, other ABIs |
//	| cgroup: memory, processes, CPU; joined before the program runs (on v1 the sandbox's first process is born in it) | internal/cgroups: Create, Join; spawn.go: spawn | memory exhaustion, fork bombs, CPU hogs; it also measures usage |
//	| rlimits: file size, open files, no core dumps; set on the sandbox's first process before it runs, or by its shell or init | rlimits.go: apply, probeRlimits; spawn.go: spawn; profile.go: buildProfile, wrap; initstart.go: startInit; internal/sandboxinit: setInitRlimits | huge files, descriptor exhaustion, core dumps |
//	| environment: a fixed base plus checked client variables, via --clearenv/--setenv | env.go: checkEnv, environ; profile.go: buildProfile, bwrapArgs | host secrets reaching a sandbox; LD_PRELOAD in bwrap itself; NUL-injected bwrap options; oversized environments |
//	| bwrap's options in a sealed memory file; NUL refused | args.go: argsFile, dataFile | option injection; a start blocked on a full pipe |
//	| host descriptors closed before exec | fds.go: closeInheritedFDs | host files reaching a sandbox through inherited descriptors |
//	| start-up and time limit bounded by the context | spawn.go: spawn, readChildPID; exec.go: run, timeLimit | a hung start or a runaway program holding a slot after its client left |
//	| output captured up to a cap (internal/textstream.Capped) | exec.go: runInInit; isolated.go: runIsolated; held.go: runHeld | server memory eaten by a chatty program |
//	| workspace: a size-capped tmpfs where the server may mount, in a mount namespace of its own that the sandbox's processes start from | mountns.go: workspace, run; sandbox.go: provision; spawn.go: spawn | filling the host's disk; every sandbox paying for the others' mounts; a workspace outliving a crashed server |
//	| workspace reached by descriptor: bwrap's --bind-fd and --ro-bind-fd, the file API's walk | sandbox.go: provision; profile.go: bwrapArgs; walk.go: workspaceFD | a swapped path leading a sandbox, or the server, elsewhere |
//	| file API: capped paths, a linear walk, symlinks only beneath the workspace, regular files only | files.go: rel; walk.go: walkDirs, stepDir, openBeneath | quadratic CPU for deep paths; symlink escapes; FIFOs stalling the server |
//	| reads capped before reading; large files streamed | files.go: ReadFile, OpenFile | server memory spent on one large file |
//	| BaseDir verified; reclaim acts only on the provider's own names, never through symlinks | basedir.go: prepareBaseDir, verifyBaseDir; reclaim.go: reclaimOrphans, reclaimInstance | other local users planting lock files or instance directories |
//	| development mode without namespaces (cgroup, rlimits, environment and time limit only) | isolation.go: newIsolation; insecure.go: prepare | nothing else: never for untrusted code |
//	| compile step: a build directory of its own as /workspace, a fixed environment, no network, a cgroup of its own with at most the sandbox's memory cap; within the execution's time limit | compile.go: runCompiled, build, compileIn, compileLimits | a compile reading the workspace or the sandbox's variables (an artefact unlike its cache key); a compile using the run step's memory, more memory than the sandbox may, or time past the execution's limit |
//	| build cache: a server-only directory; regular files copied through an os.Root; SHA-256 checked on every use; its size bound kept by an index in memory, each put reserving its bytes (evicting the least recently used) before it copies | internal/buildcache: Put, CopyTree, Install, reserve, load; compile.go: installArtefact | a sandbox reading or poisoning another's artefacts; a compiler's symlink leading the server to a host file; a flood of new programs filling the host's disk or making every put read every manifest |
//	| Go's build cache: filled by a compile of the provider's own, copied for each compile | toolchain.go: warm, fillWarm; compile.go: copySeed | a sandbox writing a cache entry that another's compile trusts |
//	| templates: a root filesystem bound read-only instead of the host's system directories | template.go: loadTemplate, systemBinds; toolchain.go: stage | nothing new: it changes what a sandbox sees, read-only |
//
// # What sandboxes still share
//
// With a host uid of its own (a root server, HostUID unset), a sandbox has
// its own share of every per-user kernel limit: inotify instances
// (fs.inotify.max_user_instances, 128 by default) and watches, epoll
// watches, pending signals (RLIMIT_SIGPENDING), POSIX message queue bytes,
// user namespaces. What stays shared, because the kernel counts it for
// the whole host and neither cgroups nor bwrap divide it:
//
//   - pseudo-terminals: kernel.pty.max (4096 by default) is one pool for
//     every devpts instance. bwrap's --dev gives each execution its own
//     instance, but with no per-instance max, so a sandbox can take ptys
//     from the others (and from containers on the host) up to its open
//     files (MaxOpenFiles per process, MaxProcesses processes);
//     kernel.pty.reserve (1024) keeps the host's own terminals.
//   - system-wide tables: open files (fs.file-max), asynchronous I/O
//     contexts (fs.aio-max-nr), PIDs (kernel.pid_max, bounded per sandbox
//     by its pids cgroup), and, for sandboxes allowed the network, the host's
//     ports and connection tracking.
//   - the page cache, disk bandwidth and, for plain-directory workspaces
//     (a server that is not root), the disk.
//
// When the server is not root, or Config.HostUID is set, every sandbox
// runs as one host uid and shares the per-user limits above too.
package local

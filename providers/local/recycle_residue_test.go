//go:build linux

package local_test

// The residue test: a tenant leaves state in every place it can reach
// (leaveScript, and background processes through the process API), and a
// detector (lookProgram) run in the next tenant's sandbox prints one line
// per residue it finds. TestResidueDetectorFindsWhatLeaveLeft proves the
// detector can fail: in the same sandbox, with no reset between, it finds
// every kind of residue the tenant managed to leave.
// TestRecycledSandboxHoldsNoResidue hands a sandbox that one owner filled
// with residue, once reset, to another owner, whose detector must find
// nothing.

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

var residuePairs = flag.Int("residue.pairs", 64,
	"how many leave/look pairs TestRecycledSandboxHoldsNoResidue runs (make test-residue runs 1000)")

// Markers: the sleeps the zoo starts run for these many seconds, which
// tells each kind of process apart in /proc. The zoo an execution starts
// counts from 9001, the one a background process starts from 9101.
const (
	execZoo    = 900
	bgZoo      = 910
	termMarker = 9200 // the terminal's sleep
)

// zooKinds are the processes zoo starts, each trying another way to
// outlive its parent, by the digit that ends its marker.
var zooKinds = []string{"", "setsid", "nohup", "double-fork", "ignores-term", "stopped", "own-session", "own-group"}

// zooFunc defines zoo PREFIX: seven processes that try to survive, each
// a sleep whose argument is PREFIX and its kind's digit (the one to be
// stopped is stopped by leaveScript once it runs sleep).
const zooFunc = `
zoo() {
	setsid sleep ${1}1 </dev/null >/dev/null 2>&1 &
	nohup sleep ${1}2 </dev/null >/dev/null 2>&1 &
	( ( exec sleep ${1}3 </dev/null >/dev/null 2>&1 ) & ) &
	sh -c "trap '' TERM HUP INT QUIT USR1; exec sleep ${1}4" </dev/null >/dev/null 2>&1 &
	sleep ${1}5 </dev/null >/dev/null 2>&1 &
	setsid -f sh -c "exec sleep ${1}6" </dev/null >/dev/null 2>&1
	python3 -c 'import os, sys; os.setpgid(0, 0); os.execvp("sleep", ["sleep", sys.argv[1]])' ${1}7 </dev/null >/dev/null 2>&1 &
}
`

// bgCommand is what the tenant starts through the process API: a zoo of
// its own, then a sleep of its own (marker 9100).
var bgCommand = zooFunc + fmt.Sprintf("zoo %d\nexec sleep %d0\n", bgZoo, bgZoo)

// leaveScript leaves state in every place a tenant can reach, and prints
// "made KIND" for what it managed and "not KIND: why" for what it did not.
// It runs once the process API's zoo has started (it waits for it). With
// LIMITS=1 it also lowers the init's limits, with SCHED=1 it changes the
// init's scheduling (what every later process of the sandbox inherits),
// with DEV=1 it replaces one of the links bwrap made in /dev.
var leaveScript = zooFunc + `
made() { echo "made $1"; }
not() { echo "not $1: $2"; }
nl='
'
read -r init </proc/1/comm
if [ "$init" = sandbox-init ]; then echo "under init"; else echo "not under init: pid 1 is $init"; fi

places="/workspace /tmp /var/tmp /dev/shm /dev"
case " $places " in *" $HOME "*) ;; *) places="$places $HOME" ;; esac

for d in $places; do
	if [ ! -d "$d" ]; then not "files:$d" "no such directory"; continue; fi
	if [ ! -w "$d" ]; then not "files:$d" "not writable"; continue; fi
	ok=1
	echo plain >"$d/residue-plain" || ok=0
	echo hidden >"$d/.residue-hidden" || ok=0
	echo odd >"$d/-residue odd${nl}name" || ok=0
	{ mkdir -p "$d/residue-locked/sub" && echo x >"$d/residue-locked/sub/f" && echo y >"$d/residue-locked/.h" &&
		chmod 000 "$d/residue-locked/sub" "$d/residue-locked"; } || ok=0
	mkfifo "$d/residue-fifo" || ok=0
	{ ln -s /etc/passwd "$d/residue-link" && ln -s / "$d/residue-root" && ln -s .. "$d/residue-up" &&
		ln -s /nonexistent "$d/residue-dangling"; } || ok=0
	head -c 4194304 /dev/zero >"$d/residue-big" || ok=0
	mkdir -p "$d/residue-many" || ok=0
	i=0; while [ $i -lt 100 ]; do : >"$d/residue-many/f$i" || ok=0; i=$((i + 1)); done
	p="$d/residue-deep"; i=0; while [ $i -lt 40 ]; do p="$p/d"; i=$((i + 1)); done
	{ mkdir -p "$p" && : >"$p/bottom"; } || ok=0
	if [ $ok = 1 ]; then made "files:$d"; else not "files:$d" "some writes failed"; fi
done

# The roots of the writable places: another mode.
for d in /workspace /tmp /dev/shm /dev; do
	m=0777; [ "$d" = /workspace ] && m=0755
	if chmod $m "$d" 2>/dev/null; then made "mode:$d"; else not "mode:$d" "chmod refused"; fi
done

# /dev is the sandbox's own tmpfs: its links can be replaced ($DEV).
if [ "$DEV" = 1 ]; then
	if rm -f /dev/stdout 2>/dev/null && ln -s /tmp/residue-plain /dev/stdout 2>/dev/null; then made "dev-link"; else not "dev-link" "refused"; fi
fi

# The processes of this execution.
zoo ` + fmt.Sprint(execZoo) + `

# System V IPC.
if ipcmk -M 65536 >/dev/null 2>&1; then made sysv-shm; else not sysv-shm "ipcmk -M failed"; fi
if ipcmk -S 4 >/dev/null 2>&1; then made sysv-sem; else not sysv-sem "ipcmk -S failed"; fi
if ipcmk -Q >/dev/null 2>&1; then made sysv-msg; else not sysv-msg "ipcmk -Q failed"; fi

# The init's limits, which every later process inherits ($LIMITS).
if [ "$LIMITS" = 1 ]; then
	for l in nofile=64:64 nproc=512:512 fsize=33554432:33554432 stack=4194304: cpu=100000:100000 \
		locks=1000:1000 memlock=4194304:4194304 sigpending=1000:1000 msgqueue=100000:100000 \
		as=34359738368:34359738368; do
		if prlimit --pid 1 --${l} 2>/dev/null; then made "rlimit:${l%%=*}"; else not "rlimit:${l%%=*}" "prlimit refused"; fi
	done
fi

# The init's scheduling, which every later process inherits too ($SCHED).
if [ "$SCHED" = 1 ]; then
	if renice -n 10 -p 1 >/dev/null 2>&1; then made sched:nice; else not sched:nice "refused"; fi
	if ionice -c 3 -p 1 2>/dev/null; then made sched:ionice; else not sched:ionice "refused"; fi
	if [ "$(nproc)" -gt 1 ] && taskset -p 1 1 >/dev/null 2>&1; then made sched:affinity; else not sched:affinity "refused or one CPU"; fi
	if chrt -i -p 0 1 2>/dev/null; then made sched:policy; else not sched:policy "refused"; fi
	if (echo 999 >/proc/1/oom_score_adj) 2>/dev/null; then made oom; else not oom "refused"; fi
	if (echo 1 >/proc/1/timerslack_ns) 2>/dev/null; then made timerslack; else not timerslack "refused"; fi
fi

python3 - "$places" <<'PY'
import ctypes, os, platform, socket, sys, time

def made(k): print("made " + k)
def refused(k, why): print("not %s: %s" % (k, why))

places = sys.argv[1].split()
for d in places:
    try:
        s = socket.socket(socket.AF_UNIX)
        s.bind(d + "/residue-sock")
        s.close()
        made("sock:" + d)
    except OSError as e:
        refused("sock:" + d, e)
for d in ("/workspace", "/tmp", "/dev/shm", "/dev"):
    try:
        os.setxattr(d, "user.residue", b"left")
        made("xattr:" + d)
    except OSError as e:
        refused("xattr:" + d, e)

libc = ctypes.CDLL(None, use_errno=True)
def errno():
    return os.strerror(ctypes.get_errno())

# A System V message queue with a message waiting.
libc.msgget.restype = ctypes.c_int
q = libc.msgget(0x5e51d0e, 0o1000 | 0o666)
class Msg(ctypes.Structure):
    _fields_ = [("mtype", ctypes.c_long), ("text", ctypes.c_char * 16)]
if q >= 0 and libc.msgsnd(q, ctypes.byref(Msg(1, b"left behind")), 16, 0) == 0:
    made("sysv-msg-pending")
else:
    refused("sysv-msg-pending", errno())

# A POSIX message queue (the mqueue filesystem of the IPC namespace).
try:
    mq_open = libc.mq_open
except AttributeError:
    mq_open = ctypes.CDLL("librt.so.1", use_errno=True).mq_open
mq_open.restype = ctypes.c_int
mqd = mq_open(b"/residue", os.O_CREAT | os.O_RDWR, 0o600, None)
if mqd >= 0:
    made("mq")
else:
    refused("mq", errno())

# A key in each keyring that is not the process's own.
nr = {"x86_64": 248, "aarch64": 217}.get(platform.machine())
libc.syscall.restype = ctypes.c_long
for name, ring in (("session", -3), ("user", -4), ("user-session", -5)):
    if nr is None:
        refused("key:" + name, "add_key's number on " + platform.machine())
        continue
    r = libc.syscall(nr, b"user", b"residue-" + name.encode(), b"left", 4, ctypes.c_int(ring))
    if r >= 0:
        made("key:" + name)
    else:
        refused("key:" + name, errno())

# Wait until both zoos run (they start asynchronously): each sleep is
# found with its exact argument vector; the ones ending in 5 are then
# stopped.
import signal
def running():
    found = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                argv = f.read().split(b"\0")
            with open("/proc/%s/stat" % p) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if len(argv) >= 2 and argv[0] == b"sleep":
            found[argv[1].decode()] = (int(p), state)
    return found

want = ["%s%d" % (z, i) for z in (` + fmt.Sprintf("%d, %d", execZoo, bgZoo) + `) for i in range(1, 8)] + ["` + fmt.Sprintf("%d0", bgZoo) + `", "` + fmt.Sprint(termMarker) + `"]
for _ in range(6000):
    found = running()
    for w in want:
        if w.endswith("5") and w in found and found[w][1] != "T":
            os.kill(found[w][0], signal.SIGSTOP)
    if all(w in found for w in want) and all(found[w][1] == "T" for w in want if w.endswith("5")):
        break
    time.sleep(0.01)
for w in want:
    if w in found:
        made("proc:" + w)
    else:
        refused("proc:" + w, "never ran")
PY
`

// lookProgram is the detector, a Python program. With "facts" it prints
// what a fresh sandbox's processes inherit and see (limits, scheduling,
// environment, descriptors, the roots of the writable places, /dev,
// keys); with "look" and those facts (JSON) it prints one line per
// residue: a writable place that is not empty, a process other than PID 1
// and itself, a System V IPC object, the POSIX message queue the tenant
// made, and each fact the fresh sandbox did not have. Clean, it prints
// nothing. It starts no process before it has listed the processes.
const lookProgram = `
import ctypes, json, os, subprocess, sys

me = os.getpid()
mode = sys.argv[1]
out = []
def residue(kind, detail):
    out.append("residue %s %s" % (kind, detail))

# Processes.
for p in sorted(os.listdir("/proc")):
    if not p.isdigit() or int(p) in (1, me):
        continue
    try:
        with open("/proc/%s/stat" % p) as f:
            rest = f.read().rsplit(")", 1)[1].split()
        with open("/proc/%s/cmdline" % p, "rb") as f:
            argv = f.read().rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace").encode("unicode_escape").decode()
    except OSError:
        continue
    if int(rest[1]) == me:
        continue  # a child of ours (none is started before this)
    residue("proc", "%s %s %s" % (p, rest[0], argv[:160]))

with open("/proc/1/comm") as f:
    init = f.read().strip()
if init != "sandbox-init":
    residue("init", "pid 1 is %s, not the sandbox's init: this look ran outside the namespaces a tenant leaves state in" % init)

# Writable places.
places = ["/workspace", "/tmp", "/var/tmp", "/dev/shm"]
home = os.environ.get("HOME")
if home and home not in places:
    places.append(home)
for d in places:
    try:
        names = sorted(os.listdir(d))
    except FileNotFoundError:
        continue
    except OSError as e:
        residue("files:" + d, "unreadable: %s" % e)
        continue
    if names:
        residue("files:" + d, "%d entries: %s" % (len(names), " ".join(repr(n) for n in names[:8])))

# System V IPC.
for kind in ("shm", "sem", "msg"):
    try:
        with open("/proc/sysvipc/" + kind) as f:
            lines = f.read().splitlines()[1:]
    except OSError as e:
        residue("sysv-" + kind, "unreadable: %s" % e)
        continue
    for line in lines:
        residue("sysv-" + kind, " ".join(line.split()))

# The POSIX message queue the tenant made (the mqueue filesystem is not
# mounted, so a queue is found by its name).
libc = ctypes.CDLL(None, use_errno=True)
try:
    mq_open = libc.mq_open
except AttributeError:
    mq_open = ctypes.CDLL("librt.so.1", use_errno=True).mq_open
mq_open.restype = ctypes.c_int
mqd = mq_open(b"/residue", os.O_RDONLY)
if mqd >= 0:
    residue("mq", "/residue exists")
    os.close(mqd)

# Facts: what the fresh sandbox's processes had.
facts = []
def fact(*parts):
    facts.append(" ".join(str(p) for p in parts))
for who in ("self", "1"):
    try:
        with open("/proc/%s/limits" % who) as f:
            for line in f.read().splitlines()[1:]:
                fact("limit", "init" if who == "1" else "self", " ".join(line.split()))
    except OSError as e:
        fact("limit", who, "unreadable", e.strerror)
with open("/proc/self/stat") as f:
    st = f.read().rsplit(")", 1)[1].split()
fact("nice", st[16])
fact("policy", st[38])
with open("/proc/self/status") as f:
    for line in f:
        if line.startswith("Cpus_allowed_list:"):
            fact("affinity", line.split()[1])
# The init's own (a program's is set by the init after it started, so a
# program may read it before).
try:
    with open("/proc/1/oom_score_adj") as f:
        fact("oom", "init", f.read().strip())
except OSError as e:
    fact("oom", "init", e.strerror)
with open("/proc/self/timerslack_ns") as f:
    fact("timerslack", f.read().strip())
u = os.umask(0)
os.umask(u)
fact("umask", "%04o" % u)
fact("cwd", os.getcwd())
fact("ids", os.getuid(), os.geteuid(), os.getgid(), os.getegid(), sorted(os.getgroups()))
fact("hostname", os.uname().nodename)
for k in sorted(os.environ):
    fact("env", "%s=%s" % (k, os.environ[k]))
fdDir = "/proc/%d/fd" % me
for fd in sorted(os.listdir(fdDir), key=int):
    if int(fd) > 2:
        try:
            fact("fd", fd, os.readlink(fdDir + "/" + fd).replace("/proc/%d/" % me, "/proc/self/"))
        except OSError:
            pass
for d in places + ["/dev"]:
    try:
        s = os.lstat(d)
    except FileNotFoundError:
        fact("stat", d, "missing")
        continue
    fact("stat", d, "%o" % s.st_mode, s.st_uid, s.st_gid)
    try:
        names = sorted(os.listxattr(d, follow_symlinks=False))
    except OSError as e:
        names = ["(%s)" % e.strerror]
    if names:
        fact("xattr", d, " ".join(names))
for name in sorted(os.listdir("/dev")):
    s = os.lstat("/dev/" + name)
    link = os.readlink("/dev/" + name) if os.path.islink("/dev/" + name) else ""
    fact("dev", name.encode("unicode_escape").decode(), "%o" % s.st_mode, s.st_uid, s.st_gid, s.st_rdev, link)
for name in sorted(os.listdir("/dev/pts")):
    fact("pts", name)
try:
    with open("/proc/keys") as f:
        for line in f:
            fact("key", " ".join(line.split()[7:]))
except OSError as e:
    fact("key", "unreadable", e.strerror)
try:
    fact("ionice", subprocess.run(["ionice", "-p", str(me)], capture_output=True, text=True).stdout.strip())
except OSError as e:
    fact("ionice", "failed", e)

if mode == "facts":
    print(json.dumps(facts))
else:
    base = set(json.loads(sys.argv[2]))
    for f in facts:
        if f not in base:
            residue("fact", f)
    print("\n".join(out), end="\n" if out else "")
`

// shellQuote quotes s as one word of sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// lookCommand is the detector's command line against the facts of a
// fresh sandbox: the detector in the shell's place, so that the shell is
// no process of the sandbox's.
func lookCommand(base []string) string { return "exec " + lookInline(base) }

// lookInline is the detector's command line where it runs beside the
// shell: the shell and its children are processes it reports.
func lookInline(base []string) string {
	b, err := json.Marshal(base)
	if err != nil {
		panic(err)
	}
	return "python3 -c " + shellQuote(lookProgram) + " look " + shellQuote(string(b))
}

// fresh is what a fresh sandbox has: the detector's facts, and its
// cgroup's limits.
type fresh struct {
	facts   []string
	limits  map[string]string
	maxExec time.Duration
}

// freshSandbox runs the detector's "facts" in a fresh sandbox of a
// provider of its own (no pool), from the sandbox's second execution on,
// as every execution of a recycled sandbox is: through its init.
func freshSandbox(t *testing.T) fresh {
	t.Helper()
	p := newTestProvider(t, local.Config{})
	sb, err := p.Create(t.Context(), computemw.CreateOptions{Owner: "p:fresh"})
	if err != nil {
		t.Fatal(err)
	}
	defer destroyNow(t, sb)
	run(t, sb, "true", computemw.ExecOptions{})
	res := run(t, sb, "exec python3 -c "+shellQuote(lookProgram)+" facts", computemw.ExecOptions{Timeout: time.Minute})
	var facts []string
	if err := json.Unmarshal([]byte(res.Stdout), &facts); err != nil || res.ExitCode != 0 {
		t.Fatalf("facts of a fresh sandbox: exit %d, %v\nstdout %q\nstderr %s", res.ExitCode, err, res.Stdout, res.Stderr)
	}
	for _, want := range []string{"limit self Max open files", "env PATH=", "dev null", "stat /tmp", "affinity"} {
		if !slices.ContainsFunc(facts, func(f string) bool { return strings.HasPrefix(f, want) }) {
			t.Fatalf("the fresh sandbox's facts have no %q, so the comparison is void: %q", want, facts)
		}
	}
	f := fresh{facts: facts, limits: cgroupLimits(t, sb), maxExec: local.SandboxMaxExec(sb)}
	if len(f.limits) == 0 {
		t.Fatal("a fresh sandbox's cgroup has no limit files, so the comparison is void")
	}
	return f
}

// cgroupLimitFiles are the files of a sandbox's cgroup that hold its
// limits, on either cgroup version.
var cgroupLimitFiles = []string{
	"memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "pids.max", "cpu.cfs_quota_us", "cpu.cfs_period_us",
	"memory.max", "memory.swap.max", "memory.high", "cpu.max", "cpu.shares", "cpu.weight",
}

// cgroupLimits reads the limits of the cgroup sb's init is in, from the
// host.
func cgroupLimits(t *testing.T, sb computemw.Sandbox) map[string]string {
	t.Helper()
	pid := local.SandboxInitPID(sb)
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatalf("the cgroup of the sandbox's init (pid %d): %v", pid, err)
	}
	_, unifiedErr := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	var dirs []string
	for line := range strings.Lines(string(b)) {
		f := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(f) != 3 {
			continue
		}
		if f[1] == "" {
			if unifiedErr == nil {
				dirs = append(dirs, filepath.Join("/sys/fs/cgroup", f[2]))
			}
			continue
		}
		for _, c := range strings.Split(f[1], ",") {
			dirs = append(dirs, filepath.Join("/sys/fs/cgroup", c, f[2]))
		}
	}
	limits := map[string]string{}
	for _, dir := range dirs {
		for _, name := range cgroupLimitFiles {
			if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
				limits[name] = strings.TrimSpace(string(b))
			}
		}
	}
	return limits
}

func destroyNow(t *testing.T, sb computemw.Sandbox) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := sb.Destroy(ctx); err != nil {
		t.Errorf("Destroy: %v", err)
	}
}

// A variant of leave: what it changes besides, of what a reset may
// refuse to restore (the sandbox is then destroyed instead): the init's
// limits or scheduling, a link bwrap made in /dev.
type variant struct{ limits, sched, dev bool }

func (v variant) String() string {
	var parts []string
	if v.limits {
		parts = append(parts, "the init's limits")
	}
	if v.sched {
		parts = append(parts, "the init's scheduling")
	}
	if v.dev {
		parts = append(parts, "a link of /dev")
	}
	if len(parts) == 0 {
		return "plain"
	}
	return strings.Join(parts, ", ")
}

// leave fills sb with residue: the zoo through the process API, a code
// context with a variable set, a terminal left running, then leaveScript
// in variant v, followed by extra (a command line, or ""). It returns
// what leave made, what it did not (with why), extra's output, and the
// context's ID and the terminal, for the caller to try once the sandbox
// is gone (and to close).
func leave(t *testing.T, sb computemw.Sandbox, v variant, extra string) (made map[string]bool, refused map[string]string, extraOut []string, contextID string, term computemw.Terminal) {
	t.Helper()
	pm, ok := sb.(computemw.ProcessManager)
	if !ok {
		t.Fatal("the sandbox has no process API")
	}
	if _, err := pm.StartProcess(t.Context(), bgCommand, computemw.ProcessOptions{}); err != nil {
		t.Fatalf("StartProcess: %v", err)
	}
	made, refused = map[string]bool{}, map[string]string{}
	if cr, ok := sb.(computemw.ContextRunner); !ok {
		refused["context"] = "no code contexts"
	} else if c, err := cr.CreateContext(t.Context(), computemw.ContextOptions{Language: "python"}); err != nil {
		refused["context"] = err.Error()
	} else if res, err := cr.RunInContext(t.Context(), c.ID, "residue = \"p:a's\"", computemw.ExecOptions{}); err != nil || res.Error != nil {
		t.Fatalf("RunInContext: %v %+v", err, res)
	} else {
		made["context"], contextID = true, c.ID
	}
	if to, ok := sb.(computemw.TerminalOpener); !ok {
		refused["terminal"] = "no terminals"
	} else if tm, err := to.OpenTerminal(t.Context(), computemw.TerminalOptions{Command: fmt.Sprintf("exec sleep %d", termMarker)}); err != nil {
		refused["terminal"] = err.Error()
	} else {
		made["terminal"], term = true, tm
		t.Cleanup(func() { _ = tm.Close() })
	}
	cmd := fmt.Sprintf("LIMITS=%d SCHED=%d DEV=%d\n", b2i(v.limits), b2i(v.sched), b2i(v.dev)) + leaveScript
	if extra != "" {
		cmd += "\necho ---\n" + extra
	}
	res := run(t, sb, cmd, computemw.ExecOptions{Timeout: 2 * time.Minute})
	before, after, _ := strings.Cut(res.Stdout, "---\n")
	for line := range strings.Lines(before) {
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "under init":
		case strings.HasPrefix(line, "made "):
			made[strings.TrimPrefix(line, "made ")] = true
		case strings.HasPrefix(line, "not "):
			k, why, _ := strings.Cut(strings.TrimPrefix(line, "not "), ": ")
			refused[k] = why
		default:
			t.Errorf("leave printed %q", line)
		}
	}
	if !strings.HasPrefix(res.Stdout, "under init\n") {
		t.Fatalf("leave did not run under the sandbox's init, where the state it leaves stays: %q (stderr %s)", res.Stdout, res.Stderr)
	}
	for line := range strings.Lines(after) {
		extraOut = append(extraOut, strings.TrimSuffix(line, "\n"))
	}
	return made, refused, extraOut, contextID, term
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// closeProvider closes p and checks it holds no sandbox (the leak check
// at the test's end checks its processes, cgroups and directories).
func closeProvider(t *testing.T, p *local.Provider) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if n := p.SandboxCount(); n != 0 {
		t.Errorf("%d sandboxes after Close", n)
	}
}

// mustMake are the kinds of residue leave must manage: a writable place
// it cannot fill, a process it cannot start or an IPC object it cannot
// make would leave the test without its subject.
func mustMake() []string {
	kinds := []string{"files:/workspace", "files:/tmp", "files:/dev/shm", "sysv-shm", "sysv-sem", "sysv-msg", "sysv-msg-pending",
		fmt.Sprintf("proc:%d0", bgZoo), fmt.Sprintf("proc:%d", termMarker), "context", "terminal"}
	for i := 1; i < len(zooKinds); i++ {
		kinds = append(kinds, fmt.Sprintf("proc:%d%d", execZoo, i), fmt.Sprintf("proc:%d%d", bgZoo, i))
	}
	return kinds
}

// limitNames are the names /proc/PID/limits gives the limits leave
// lowers.
var limitNames = map[string]string{
	"nofile": "Max open files", "nproc": "Max processes", "fsize": "Max file size", "stack": "Max stack size",
	"cpu": "Max cpu time", "locks": "Max file locks", "memlock": "Max locked memory", "sigpending": "Max pending signals",
	"msgqueue": "Max msgqueue size", "as": "Max address space",
}

// detects reports which of look's lines show the residue of kind k, as
// leave names it ("" when k is one the look reports in no line of its
// own: a socket shows as its place's files).
func detects(k string) func(line string) bool {
	prefix := func(p string) func(string) bool { return func(l string) bool { return strings.HasPrefix(l, p) } }
	name, arg, _ := strings.Cut(k, ":")
	switch name {
	case "files", "sock":
		if arg == "/dev" {
			// /dev is never empty: its entries are facts.
			return prefix("residue fact dev residue-")
		}
		return prefix("residue files:" + arg + " ")
	case "mode":
		return prefix("residue fact stat " + arg + " ")
	case "xattr":
		return prefix("residue fact xattr " + arg + " ")
	case "dev-link":
		return prefix("residue fact dev stdout ")
	case "sysv-shm", "sysv-sem", "sysv-msg":
		return prefix("residue " + name + " ")
	case "sysv-msg-pending":
		return prefix("residue sysv-msg ")
	case "mq":
		return prefix("residue mq ")
	case "key":
		return func(l string) bool {
			return strings.HasPrefix(l, "residue fact key ") && strings.Contains(l, "residue-")
		}
	case "rlimit":
		return func(l string) bool {
			return strings.HasPrefix(l, "residue fact limit init "+limitNames[arg]) ||
				strings.HasPrefix(l, "residue fact limit self "+limitNames[arg])
		}
	case "sched":
		return prefix("residue fact " + map[string]string{"nice": "nice", "ionice": "ionice", "affinity": "affinity", "policy": "policy"}[arg] + " ")
	case "oom":
		return prefix("residue fact oom ")
	case "timerslack":
		return prefix("residue fact timerslack ")
	case "terminal":
		return detects(fmt.Sprintf("proc:%d", termMarker))
	case "context":
		// The interpreter: a process that is none of the sleeps.
		return func(l string) bool {
			f := strings.Fields(l)
			return len(f) >= 5 && f[1] == "proc" && f[4] != "sleep"
		}
	case "proc":
		return func(l string) bool {
			f := strings.Fields(l)
			return len(f) >= 6 && f[1] == "proc" && f[4] == "sleep" && f[5] == arg
		}
	}
	return nil
}

// The detector can fail: run in the very sandbox the tenant filled, with
// no reset between, it reports every kind of residue leave made, and
// leave made every kind it must.
func TestResidueDetectorFindsWhatLeaveLeft(t *testing.T) {
	base := freshSandbox(t).facts
	p := newTestProvider(t, local.Config{})
	sb, err := p.Create(t.Context(), computemw.CreateOptions{Owner: "p:a"})
	if err != nil {
		t.Fatal(err)
	}
	defer destroyNow(t, sb)

	// Clean, it prints nothing.
	run(t, sb, "true", computemw.ExecOptions{})
	if res := run(t, sb, lookCommand(base), computemw.ExecOptions{Timeout: time.Minute}); res.Stdout != "" || res.ExitCode != 0 {
		t.Fatalf("the look found residue in a fresh sandbox (exit %d, stderr %q):\n%s", res.ExitCode, res.Stderr, res.Stdout)
	}

	// The look at the end of leave's own execution sees its processes
	// while they run.
	made, refused, during, _, _ := leave(t, sb, variant{limits: true, sched: true, dev: true}, lookInline(base))
	for _, k := range mustMake() {
		if !made[k] {
			t.Errorf("leave did not make %s: %s", k, refused[k])
		}
	}
	t.Logf("leave made %d kinds; refused: %v", len(made), refused)
	for i := 1; i < len(zooKinds); i++ {
		k := fmt.Sprintf("proc:%d%d", execZoo, i)
		if made[k] && !slices.ContainsFunc(during, detects(k)) {
			t.Errorf("the look in leave's execution missed its %s process (%s):\n%s", zooKinds[i], k, strings.Join(during, "\n"))
		}
	}

	after := strings.Split(strings.TrimSuffix(run(t, sb, lookCommand(base), computemw.ExecOptions{Timeout: time.Minute}).Stdout, "\n"), "\n")
	for k := range made {
		if strings.HasPrefix(k, fmt.Sprintf("proc:%d", execZoo)) {
			// Killed when leave's execution ended (the init kills what an
			// execution leaves): no residue to detect, by design.
			if slices.ContainsFunc(after, detects(k)) {
				t.Logf("%s outlived the execution that started it", k)
			}
			continue
		}
		if !slices.ContainsFunc(after, detects(k)) {
			t.Errorf("the look missed %s, which leave made:\n%s", k, strings.Join(after, "\n"))
		}
	}
	t.Logf("look in the same sandbox:\n%s", strings.Join(after, "\n"))
}

// recyclingPool starts a provider whose pool of one makes its sandbox
// when it starts and then not for a day: its place is the recycled
// sandbox's. (A pool that refills at once fills its place while a
// sandbox is in use, and a sandbox destroyed when the pool holds all it
// wants is not reset.) Its sandboxes serve up to uses creates.
func recyclingPool(t *testing.T, uses int) *local.Provider {
	t.Helper()
	p := newTestProvider(t, local.Config{WarmPool: local.PoolConfig{Size: 1, MaxSize: 1, Workers: 1, Quiet: 24 * time.Hour,
		Recycle: local.RecycleConfig{MaxUses: uses, MaxAge: 24 * time.Hour}}})
	waitUntil(t, "a ready sandbox", func() bool { return p.PoolStats().Ready == 1 })
	// An execution starts the quiet period the pool waits for before it
	// makes a sandbox (until then it makes them at once). Other limits:
	// the create does not take the pool's sandbox.
	other, err := p.Create(t.Context(), computemw.CreateOptions{Resources: computemw.Resources{MemoryMB: 200}})
	if err != nil {
		t.Fatal(err)
	}
	run(t, other, "true", computemw.ExecOptions{})
	destroyNow(t, other)
	if s := p.PoolStats(); s.Ready != 1 || s.Hits != 0 {
		t.Fatalf("the create with other limits changed the pool: %+v", s)
	}
	return p
}

// A terminal the last owner left open is no way into the next owner's
// sandbox: the recycled sandbox holds no pseudo-terminal of it, that the
// next owner's programs could read what is typed into the stale handle
// from, or write to it.
func TestRecycledSandboxHoldsNoTerminalOfTheLastOwner(t *testing.T) {
	p := recyclingPool(t, 10)
	ctx := t.Context()
	a, err := p.Create(ctx, computemw.CreateOptions{Owner: "p:a"})
	if err != nil {
		t.Fatal(err)
	}
	term, err := a.(computemw.TerminalOpener).OpenTerminal(ctx, computemw.TerminalOptions{Command: fmt.Sprintf("exec sleep %d", termMarker)})
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	initA := local.SandboxInitPID(a)
	destroyNow(t, a)
	b, err := p.Create(ctx, computemw.CreateOptions{Owner: "p:b"})
	if err != nil {
		t.Fatal(err)
	}
	defer destroyNow(t, b)
	if initA == 0 || local.SandboxInitPID(b) != initA {
		t.Fatalf("p:b's sandbox is not p:a's, recycled (%+v)", p.PoolStats())
	}
	res := run(t, b, `for f in /dev/pts/[0-9]*; do [ -e "$f" ] || continue; echo "$f"; { exec 3<>"$f" && echo from-p:b >&3; } && echo "p:b wrote to $f"; done`, computemw.ExecOptions{})
	if res.Stdout != "" {
		t.Errorf("p:a's terminal, still open, is reachable in p:b's sandbox:\n%s", res.Stdout)
	}
}

// A sandbox one owner filled with residue is reset before the pool hands
// it to another owner, who finds none of it: pairs of creates on a pool
// of one, the first owner's leave, the second owner's look. Three pairs in
// four leave the init and bwrap's /dev entries as they were, and their
// sandbox must be recycled; the fourth lowers the init's limits, changes
// its scheduling or replaces a link in /dev, in turn, and its reset must
// either restore what the next owner inherits or fail (the sandbox is
// then destroyed instead, and the next owner gets another).
func TestRecycledSandboxHoldsNoResidue(t *testing.T) {
	pairs := *residuePairs
	clean := freshSandbox(t)
	// A reset that fails leaves the pool empty: the pairs go on with a
	// new provider.
	newProvider := func() *local.Provider { return recyclingPool(t, 4*pairs+10) }
	p := newProvider()
	var earlier computemw.PoolStats // of the providers closed before
	ctx := t.Context()
	look := lookCommand(clean.facts)
	outcomes := map[string]int{} // by variant: "recycled" or "destroyed"
	for i := range pairs {
		var v variant
		if i%4 == 3 {
			k := i / 4 % 3
			v = variant{limits: k == 0, sched: k == 1, dev: k == 2}
		}
		// p:a's own variable and a shorter time limit, which must not
		// reach p:b.
		a, err := p.Create(ctx, computemw.CreateOptions{Owner: "p:a", Env: map[string]string{"RESIDUE_SECRET": "p:a's"},
			Resources: computemw.Resources{MaxExecutionTime: 3 * time.Minute}})
		if err != nil {
			t.Fatalf("pair %d: Create for p:a: %v", i, err)
		}
		made, refused, _, contextA, termA := leave(t, a, v, "")
		for _, k := range mustMake() {
			if !made[k] {
				t.Errorf("pair %d: leave did not make %s: %s", i, k, refused[k])
			}
		}
		used, err := a.Usage(ctx)
		if err != nil {
			t.Fatalf("pair %d: Usage: %v", i, err)
		}
		initA := local.SandboxInitPID(a)
		before := p.PoolStats()
		destroyNow(t, a)
		if t.Failed() {
			t.FailNow()
		}
		// The reset may end after Destroy returns: it ends in either count.
		waitUntil(t, "the end of p:a's sandbox's reset", func() bool {
			s := p.PoolStats()
			return s.Recycled+s.ResetFailed > before.Recycled+before.ResetFailed
		})
		after := p.PoolStats()
		recycled := after.Recycled == before.Recycled+1 && after.ResetFailed == before.ResetFailed
		switch {
		case recycled:
			outcomes[v.String()+": recycled"]++
		case after.ResetFailed == before.ResetFailed+1 && v != (variant{}):
			outcomes[v.String()+": destroyed"]++
		default:
			t.Fatalf("pair %d (%v): destroying p:a's sandbox recycled %d and failed %d resets, want 1 recycled (%+v)",
				i, v, after.Recycled-before.Recycled, after.ResetFailed-before.ResetFailed, after)
		}

		b, err := p.Create(ctx, computemw.CreateOptions{Owner: "p:b"})
		if err != nil {
			t.Fatalf("pair %d: Create for p:b: %v", i, err)
		}
		initB := local.SandboxInitPID(b)
		switch {
		case recycled && (initA == 0 || initB != initA):
			destroyNow(t, b)
			t.Fatalf("pair %d: p:b's sandbox is not p:a's, recycled (init %d, p:a's %d)", i, initB, initA)
		case !recycled && initB == initA:
			destroyNow(t, b)
			t.Fatalf("pair %d: p:b got p:a's sandbox, whose reset failed (init %d)", i, initB)
		case !recycled && initB == 0:
			// A sandbox the pool made, whose first execution is a bwrap
			// process of its own: the look runs through its init, as
			// in a recycled one.
			run(t, b, "true", computemw.ExecOptions{})
		}
		if b.ID() == a.ID() {
			t.Errorf("pair %d: the recycled sandbox kept its ID %s", i, a.ID())
		}
		// Its limits are a fresh sandbox's, its counters started afresh.
		if recycled {
			if got := local.SandboxMaxExec(b); got != clean.maxExec {
				t.Errorf("pair %d: the recycled sandbox's executions may run %v, a fresh one's %v", i, got, clean.maxExec)
			}
			if got := cgroupLimits(t, b); !maps.Equal(got, clean.limits) {
				t.Errorf("pair %d: the recycled sandbox's cgroup limits are %v, a fresh one's %v", i, got, clean.limits)
			}
			if u, err := b.Usage(ctx); err != nil {
				t.Errorf("pair %d: Usage: %v", i, err)
			} else if u.Executions != 0 || u.CPUTime >= used.CPUTime || u.PeakMemory >= used.PeakMemory {
				t.Errorf("pair %d: the recycled sandbox's usage is %+v, p:a's leave left %+v", i, u, used)
			}
		}
		// p:a's handle reaches nothing of p:b's.
		if _, err := a.Exec(ctx, "echo stale", computemw.ExecOptions{}); err == nil {
			t.Errorf("pair %d: p:a's handle still runs commands after Destroy", i)
		}
		if err := a.WriteFile(ctx, "stale", []byte("x")); err == nil {
			t.Errorf("pair %d: p:a's handle still writes files after Destroy", i)
		}
		_ = a.Destroy(ctx)
		// Nothing of p:a's in what the provider keeps for p:b's sandbox.
		if cs, err := b.(computemw.ContextRunner).Contexts(ctx); err != nil || len(cs) != 0 {
			t.Errorf("pair %d: the recycled sandbox has the contexts %+v (%v)", i, cs, err)
		}
		if _, err := b.(computemw.ContextRunner).RunInContext(ctx, contextA, "print(residue)", computemw.ExecOptions{}); err == nil {
			t.Errorf("pair %d: p:a's code context %s runs in p:b's sandbox", i, contextA)
		}
		if ps, err := b.(computemw.ProcessManager).Processes(ctx); err != nil || len(ps) != 0 {
			t.Errorf("pair %d: the recycled sandbox lists the processes %+v (%v)", i, ps, err)
		}

		res, err := b.Exec(ctx, look, computemw.ExecOptions{Timeout: time.Minute})
		if err != nil {
			destroyNow(t, b)
			t.Fatalf("pair %d: look: %v", i, err)
		}
		if res.Stdout != "" || res.ExitCode != 0 {
			t.Errorf("pair %d (%v; recycled: %v): p:b found p:a's residue (exit %d, stderr %q):\n%s",
				i, v, recycled, res.ExitCode, res.Stderr, res.Stdout)
		}
		// p:a's terminal, still open, ended with p:a's sandbox.
		_ = termA.Close()
		if code, err := termA.Wait(); err == nil && code == 0 {
			t.Errorf("pair %d: p:a's terminal exited 0", i)
		}
		destroyNow(t, b)
		if t.Failed() {
			t.FailNow()
		}
		if !recycled {
			s := p.PoolStats()
			earlier.Recycled += s.Recycled
			earlier.ResetFailed += s.ResetFailed
			closeProvider(t, p)
			p = newProvider()
		}
	}
	s := p.PoolStats()
	s.Recycled += earlier.Recycled
	s.ResetFailed += earlier.ResetFailed
	destroyed := 0
	for k, n := range outcomes {
		if strings.HasSuffix(k, ": destroyed") {
			destroyed += n
		}
	}
	if s.ResetFailed != uint64(destroyed) {
		t.Errorf("%d resets failed, %d of them of a sandbox whose init leave changed: %+v", s.ResetFailed, destroyed, s)
	}
	t.Logf("%d pairs: %v; %+v", pairs, outcomes, s)

	closeProvider(t, p)
	// No sleep of either zoo on the host (checkNoLeaks, when the test
	// ends, checks the provider's cgroups and the test's children).
	for _, z := range []int{execZoo, bgZoo} {
		for i := range len(zooKinds) {
			if left := hostProcsWithCmdline("sleep", fmt.Sprintf("%d%d", z, i)); len(left) > 0 {
				t.Errorf("a sandbox process is left on the host: %+v", left)
			}
		}
	}
}

package e2bfake

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// home is the sandbox's home directory, where relative paths resolve.
const home = "/home/user"

// sandbox is one fake sandbox: a root directory and its processes.
type sandbox struct {
	f        *Fake
	id       string
	token    string
	version  string // the envdVersion it advertises
	template string
	root     string
	env      map[string]string
	meta     map[string]string
	internet *bool
	started  time.Time

	mu      sync.Mutex
	end     time.Time
	procs   map[uint32]*proc
	nextPID uint32
	peak    int64
	dead    bool
	paused  bool
}

func (f *Fake) newSandbox(req newSandbox, life time.Duration) (*sandbox, error) {
	id := "fk" + randHex(8)
	root := filepath.Join(f.root, id)
	for _, d := range []string{home, "/tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return nil, fmt.Errorf("making the sandbox root: %w", err)
		}
	}
	// E2B issues an envd access token only to a create that asked for
	// secure; without one, envd answers any request.
	token := ""
	if req.Secure != nil && *req.Secure {
		token = randHex(16)
	}
	now := time.Now()
	sb := &sandbox{
		f: f, id: id, token: token, version: f.version(), template: req.TemplateID, root: root,
		env: req.EnvVars, meta: req.Metadata, internet: req.AllowInternetAccess,
		started: now, end: now.Add(life), procs: map[uint32]*proc{}, nextPID: 100,
	}
	f.mu.Lock()
	f.sandboxes[id] = sb
	f.created++
	f.notify()
	f.mu.Unlock()
	return sb, nil
}

func (sb *sandbox) answer() sandboxAnswer {
	return sandboxAnswer{
		TemplateID: sb.template, SandboxID: sb.id, ClientID: "fake", EnvdVersion: sb.version,
		EnvdAccessToken: sb.token, Domain: Domain,
	}
}

func (sb *sandbox) detail() sandboxDetail {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sandboxDetail{
		TemplateID: sb.template, SandboxID: sb.id, ClientID: "fake", StartedAt: sb.started.UTC(), EndAt: sb.end.UTC(),
		EnvdVersion: sb.version, EnvdAccessToken: sb.token, AllowInternetAccess: sb.internet, Domain: Domain,
		CPUCount: 2, MemoryMB: 512, DiskSizeMB: 1024, Metadata: sb.meta, State: sb.state(),
	}
}

// state is the sandbox's state as the control plane names it; sb.mu is
// held.
func (sb *sandbox) state() string {
	if sb.paused {
		return "paused"
	}
	return "running"
}

// resume wakes a paused sandbox and reports whether it was paused.
func (sb *sandbox) resume() bool {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	was := sb.paused
	sb.paused = false
	return was
}

func (sb *sandbox) isPaused() bool {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.paused
}

// Pause pauses a sandbox, as the vendor's auto-pause does when its
// lifetime ends: the control plane describes it as "paused", its envd is
// unreachable, and connecting resumes it (answering 201, where connecting
// to a running sandbox answers 200). It reports false when there is no
// such sandbox.
func (f *Fake) Pause(id string) bool {
	f.mu.Lock()
	sb := f.sandboxes[id]
	f.mu.Unlock()
	if sb == nil {
		return false
	}
	sb.mu.Lock()
	sb.paused = true
	sb.mu.Unlock()
	return true
}

func (sb *sandbox) setEnd(t time.Time) {
	sb.mu.Lock()
	sb.end = t
	sb.mu.Unlock()
}

func (sb *sandbox) extendEnd(t time.Time) {
	sb.mu.Lock()
	if t.After(sb.end) {
		sb.end = t
	}
	sb.mu.Unlock()
}

// EndAt returns when the sandbox expires (the fake does not expire them).
func (f *Fake) EndAt(id string) (time.Time, bool) {
	f.mu.Lock()
	sb := f.sandboxes[id]
	f.mu.Unlock()
	if sb == nil {
		return time.Time{}, false
	}
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.end, true
}

// Env returns the environment a sandbox was created with.
func (f *Fake) Env(id string) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if sb := f.sandboxes[id]; sb != nil {
		return sb.env
	}
	return nil
}

// Secured reports whether a sandbox was created with secure: true, and so
// has an envd access token that envd requires.
func (f *Fake) Secured(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if sb := f.sandboxes[id]; sb != nil {
		return sb.token != ""
	}
	return false
}

// Metadata returns the metadata a sandbox was created with.
func (f *Fake) Metadata(id string) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if sb := f.sandboxes[id]; sb != nil {
		return sb.meta
	}
	return nil
}

// AllowInternetAccess returns the create request's allow_internet_access
// of a sandbox (nil when not sent).
func (f *Fake) AllowInternetAccess(id string) *bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if sb := f.sandboxes[id]; sb != nil {
		return sb.internet
	}
	return nil
}

// hostPath maps a path inside the sandbox to the host: absolute paths
// live under the root, relative ones under the home directory.
func (sb *sandbox) hostPath(p string) (string, error) {
	if p == "" {
		return "", errors.New("path is empty")
	}
	if strings.ContainsRune(p, 0) {
		return "", errors.New("path contains a NUL byte")
	}
	if !strings.HasPrefix(p, "/") {
		p = home + "/" + p
	}
	return filepath.Join(sb.root, filepath.FromSlash(path.Clean(p))), nil
}

// sandboxPath maps a host path under the root back.
func (sb *sandbox) sandboxPath(host string) string {
	rel, err := filepath.Rel(sb.root, host)
	if err != nil {
		return host
	}
	return "/" + filepath.ToSlash(rel)
}

func (sb *sandbox) running() int {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return len(sb.procs)
}

func (sb *sandbox) peakRSS() int64 {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.peak
}

// kill ends every process and removes the root.
func (sb *sandbox) kill() {
	sb.mu.Lock()
	sb.dead = true
	procs := make([]*proc, 0, len(sb.procs))
	for _, p := range sb.procs {
		procs = append(procs, p)
	}
	sb.mu.Unlock()
	for _, p := range procs {
		p.signal(syscall.SIGKILL)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			// A fault of the fake, not of the client: say so, never hang.
			sb.f.errorf("process %d (%s) did not end 10s after SIGKILL", p.pid, p.cmd.Path)
		}
	}
	_ = os.RemoveAll(sb.root)
}

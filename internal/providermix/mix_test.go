package providermix

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/providers/cloudflare"
	"github.com/computemw/kit/providers/cloudflare/cloudflarefake"
	"github.com/computemw/kit/providers/daytona"
	"github.com/computemw/kit/providers/daytona/daytonafake"
	"github.com/computemw/kit/providers/e2b"
	"github.com/computemw/kit/providers/e2b/e2bfake"
	"github.com/computemw/kit/providers/local"
	"github.com/computemw/kit/providers/modal"
	"github.com/computemw/kit/providers/modal/modalfake"
	"github.com/computemw/kit/providers/vercel"
	"github.com/computemw/kit/providers/vercel/vercelfake"
)

// cleanupWindow bounds how long a remote provider looks for a sandbox
// that a create which failed with a 5xx may have made; the kit's Close
// waits for those searches.
const cleanupWindow = 500 * time.Millisecond

// member is one provider of the mix.
type member struct {
	prov computemw.Provider
	// goDown makes the service's next creation fail as it does when the
	// service is down (nil for the local provider, which has no service).
	goDown func()
	// attempts counts the creation requests that reached the service, and
	// perFailure is how many one failed creation sends (an SDK's own
	// retries included), so that a test sees each fault used up.
	attempts   func() int
	perFailure int
}

// mix is a kit over every provider.
type mix struct {
	kit     *computemw.Kit
	names   []string // registration order: the remote ones, then "local"
	members map[string]*member
}

// newMix starts the five contract fakes and a provider on each, plus the
// local provider when bwrap is installed, and a kit over them whose
// strategy is strategy(names) (cfg's other fields are kept). When the test
// ends the kit is closed (which closes the providers) and every fake's
// books are checked: no sandbox, command or workspace left.
func newMix(t *testing.T, cfg computemw.Config, strategy func(names []string) computemw.Strategy) *mix {
	t.Helper()
	m := &mix{members: map[string]*member{}}
	add := func(mb *member) {
		m.names = append(m.names, mb.prov.Name())
		m.members[mb.prov.Name()] = mb
	}
	add(newE2B(t))
	add(newDaytona(t))
	add(newVercel(t))
	add(newModal(t))
	add(newCloudflare(t))
	if lp := newLocal(t); lp != nil {
		add(&member{prov: lp})
	}
	cfg.Strategy = strategy(slices.Clone(m.names))
	for _, n := range m.names {
		cfg.Providers = append(cfg.Providers, m.members[n].prov)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	kit, err := computemw.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.kit = kit
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := kit.Close(ctx); err != nil {
			t.Errorf("kit.Close: %v", err)
		}
	})
	return m
}

// afterClose closes p when the test ends (again, after the kit did:
// Close is idempotent; it is this that closes p when the kit was never
// made) and then runs check, with a bounded context.
func afterClose(t *testing.T, p computemw.Provider, check func(ctx context.Context)) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.(computemw.Closer).Close(ctx); err != nil {
			t.Errorf("%s: Close: %v", p.Name(), err)
		}
		check(ctx)
	})
}

// exec runs echo through the kit's HTTP contract, with no provider named
// (the strategy picks), and returns the provider that ran it, or "" with
// the status and code of a failure.
func (m *mix) exec(t *testing.T) (provider string, status int, code string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	r := computemwtest.ServePath(ctx, m.kit, "POST", "/exec", `{"command":"echo hi"}`, nil)
	var out struct {
		Provider string `json:"provider"`
		Output   string `json:"output"`
		Code     string `json:"code"`
	}
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatalf("exec: %d %s: %v", r.Status, r.Body, err)
	}
	if r.Status != 200 {
		return "", r.Status, out.Code
	}
	if out.Output != "hi\n" || out.Provider == "" {
		t.Fatalf("exec: %d %s", r.Status, r.Body)
	}
	return out.Provider, r.Status, ""
}

// attempts returns every remote member's attempt count.
func (m *mix) attempts() map[string]int {
	a := map[string]int{}
	for n, mb := range m.members {
		if mb.attempts != nil {
			a[n] = mb.attempts()
		}
	}
	return a
}

// checkAttempts fails unless, since before, the named members each had
// exactly one failed creation and no other member was asked to create.
func (m *mix) checkAttempts(t *testing.T, before map[string]int, failed []string, served string) {
	t.Helper()
	for n, mb := range m.members {
		if mb.attempts == nil {
			continue
		}
		want := 0
		if slices.Contains(failed, n) {
			want = mb.perFailure
		}
		if n == served {
			want++
		}
		if got := mb.attempts() - before[n]; got != want {
			t.Errorf("%s: %d creation requests, want %d", n, got, want)
		}
	}
}

func newE2B(t *testing.T) *member {
	f := e2bfake.New(t)
	opts := f.Options()
	p, err := e2b.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	afterClose(t, p, func(ctx context.Context) {
		f.AssertNoneLive(t)
		if err := f.WaitNoProcesses(ctx); err != nil {
			t.Error(err)
		}
		opts.HTTPClient.CloseIdleConnections()
	})
	return &member{
		prov:       p,
		goDown:     func() { f.Inject(e2bfake.Fault{Op: e2bfake.OpCreate, Status: 500}) },
		attempts:   func() int { return f.Count(e2bfake.OpCreate) },
		perFailure: 1, // a create is never retried
	}
}

func newDaytona(t *testing.T) *member {
	f := daytonafake.New(t, daytonafake.Options{})
	p, err := daytona.New(daytona.Options{APIKey: f.APIKey, APIURL: f.URL,
		PollInterval: 5 * time.Millisecond, MaxPollInterval: 50 * time.Millisecond, CleanupWindow: cleanupWindow})
	if err != nil {
		t.Fatal(err)
	}
	afterClose(t, p, func(context.Context) {
		if live := f.Live(); len(live) != 0 {
			t.Errorf("daytona: sandboxes left on the fake's books: %v", live)
		}
		if n := f.Running(); n != 0 {
			t.Errorf("daytona: %d commands still running on the fake", n)
		}
	})
	return &member{
		prov:       p,
		goDown:     func() { f.Inject(daytonafake.Fault{Op: "createSandbox", Status: 503}) },
		attempts:   func() int { return f.Calls("createSandbox") },
		perFailure: 1,
	}
}

func newVercel(t *testing.T) *member {
	f := vercelfake.New(t, vercelfake.Options{})
	p, err := vercel.New(vercel.Options{Token: f.Token, TeamID: f.TeamID, ProjectID: f.ProjectID, APIURL: f.URL,
		PollInterval: 5 * time.Millisecond, MaxPollInterval: 50 * time.Millisecond, CleanupWindow: cleanupWindow})
	if err != nil {
		t.Fatal(err)
	}
	afterClose(t, p, func(context.Context) {
		if live := f.Live(); len(live) != 0 {
			t.Errorf("vercel: sandboxes left running on the fake's books: %v", live)
		}
		if n := f.Running(); n != 0 {
			t.Errorf("vercel: %d commands still running on the fake", n)
		}
	})
	return &member{
		prov:       p,
		goDown:     func() { f.Inject(vercelfake.Fault{Op: "createSandbox", Status: 500}) },
		attempts:   func() int { return f.Calls("createSandbox") },
		perFailure: 1,
	}
}

// modalSDKRetries is how many times Modal's Go SDK sends a call again
// after UNAVAILABLE (with one idempotency key).
const modalSDKRetries = 3

func newModal(t *testing.T) *member {
	f := modalfake.New(t, modalfake.Options{})
	p, err := modal.New(modal.Options{TokenID: f.TokenID, TokenSecret: f.TokenSecret, ServerURL: f.URL,
		CleanupWindow: cleanupWindow, RetryBase: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	afterClose(t, p, func(context.Context) {
		if live := f.Live(); len(live) != 0 {
			t.Errorf("modal: sandboxes left on the fake's books: %v", live)
		}
		if n := f.Running(); n != 0 {
			t.Errorf("modal: %d commands still running on the fake", n)
		}
	})
	return &member{
		prov: p,
		goDown: func() {
			f.Inject(modalfake.Fault{Method: "SandboxCreateV2", Code: codes.Unavailable, Times: 1 + modalSDKRetries})
		},
		attempts:   func() int { return f.Calls("SandboxCreateV2") },
		perFailure: 1 + modalSDKRetries,
	}
}

func newCloudflare(t *testing.T) *member {
	f := cloudflarefake.New(t)
	opts := f.Options()
	p, err := cloudflare.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	afterClose(t, p, func(ctx context.Context) {
		f.AssertNoneLive(t)
		if err := f.WaitIdle(ctx); err != nil {
			t.Error(err)
		}
		opts.HTTPClient.CloseIdleConnections()
	})
	return &member{
		prov: p,
		// The bridge's answer when it has no room for another container.
		goDown:     func() { f.Inject(cloudflarefake.Fault{Op: "createSandbox", Status: 503}) },
		attempts:   func() int { return f.Calls("createSandbox") },
		perFailure: 1,
	}
}

// newLocal starts a local provider (real bubblewrap sandboxes) on a base
// directory and cgroup of its own, or returns nil when bwrap is not
// installed (under CI=true it must be). When the test ends, after the kit
// closed it, no workspace and no cgroup may be left.
func newLocal(t *testing.T) *local.Provider {
	t.Helper()
	if _, err := exec.LookPath("bwrap"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("required under CI: bubblewrap (bwrap) is not installed")
		}
		t.Log("bubblewrap (bwrap) is not installed: the mix is the five remote providers only")
		return nil
	}
	base, err := os.MkdirTemp("", "computemw-providermix-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o711); err != nil { // the sandbox's uid reaches its workspace
		t.Fatal(err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	parent := "computemw-test/providermix-" + hex.EncodeToString(b[:])
	p, err := local.New(local.Config{BaseDir: base, CgroupParent: parent, Logger: slog.New(slog.DiscardHandler),
		WarmPool: local.PoolConfig{Size: -1}})
	if err != nil {
		os.RemoveAll(base)
		t.Fatalf("local.New: %v", err)
	}
	afterClose(t, p, func(context.Context) {
		if n := p.SandboxCount(); n != 0 {
			t.Errorf("local: %d sandboxes left", n)
		}
		if left, _ := filepath.Glob(filepath.Join(base, "*")); len(left) != 0 {
			t.Errorf("local: left behind: %v", left)
		}
		os.RemoveAll(base)
		checkCgroups(t, parent)
	})
	return p
}

// checkCgroups fails if a cgroup is left under parent, on either cgroup
// version, and removes parent.
func checkCgroups(t *testing.T, parent string) {
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", parent))
	dirs = append(dirs, filepath.Join("/sys/fs/cgroup", parent))
	for _, dir := range dirs {
		var all []string
		_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				all = append(all, path)
			}
			return nil
		})
		if len(all) > 1 {
			t.Errorf("local: cgroups left under %s: %v", dir, all[1:])
		}
		slices.Reverse(all) // deepest first: cgroups are removed with rmdir
		for _, d := range all {
			_ = os.Remove(d)
		}
		_ = os.Remove(filepath.Dir(dir)) // the shared test root, once empty
	}
}

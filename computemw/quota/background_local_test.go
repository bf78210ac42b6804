package quota_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/internal/policytest"
	"github.com/computemw/kit/computemw/quota"
	"github.com/computemw/kit/providers/local"
)

// localProvider starts a local provider (real bubblewrap sandboxes) on a
// fresh base directory and cgroup; the kit closes it.
func localProvider(t *testing.T) *local.Provider {
	t.Helper()
	_, err := exec.LookPath("bwrap")
	computemwtest.Require(t, err == nil, "bwrap is not installed (install the 'bubblewrap' package); the quota's sandbox tests need it")
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o711); err != nil { // the sandbox's uid reaches its workspace
			t.Fatal(err)
		}
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	parent := "computemw-test/quota-" + hex.EncodeToString(b[:])
	// Registered before the kit's close, so run after it: the provider
	// leaves its parent cgroup, empty, in each hierarchy.
	t.Cleanup(func() { removeCgroupParent(t, parent) })
	p, err := local.New(local.Config{BaseDir: dir, CgroupParent: parent,
		MemoryMB: 128, CPUCores: 1, Logger: policytest.DiscardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// removeCgroupParent removes the provider's parent cgroup in every
// hierarchy (cgroup v1's, or v2's one), failing the test when one still
// holds a group (a sandbox's cgroup the provider left).
func removeCgroupParent(t *testing.T, parent string) {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", parent))
	dirs = append(dirs, filepath.Join("/sys/fs/cgroup", parent))
	for _, dir := range dirs {
		if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the provider's cgroup parent %s: %v", dir, err)
		}
	}
}

// A busy loop started in the background of a real sandbox is charged the
// CPU its cgroup measured, and killed once its creator's CPU quota is
// spent; the next execution is refused. The loop never ends by itself.
func TestQuotaStopsABackgroundBusyLoop(t *testing.T) {
	const limit = 1.0 // CPU seconds
	q, err := quota.New(quota.Config{Plans: map[string]quota.Limits{"free": {CPUSeconds: limit}, "enterprise": {}},
		Logger: policytest.DiscardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	kit := policytest.NewKit(t, computemw.Config{
		Providers:          []computemw.Provider{localProvider(t)},
		Policies:           []computemw.Policy{q},
		UsageCheckInterval: 50 * time.Millisecond,
	})
	alice := computemw.Principal{ID: "alice", Plan: "free"}
	ctx := computemw.WithPrincipal(context.Background(), alice)
	// An unlimited observer lists the processes: alice's spent quota
	// refuses her even that.
	observer := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "observer", Plan: "enterprise"})
	sb, err := kit.Create(ctx, "", computemw.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Destroy(context.Background())
	pm := sb.(computemw.ProcessManager)
	if _, err := pm.StartProcess(ctx, "while :; do :; done", computemw.ProcessOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		procs, err := pm.Processes(observer)
		if err != nil {
			t.Fatal(err)
		}
		running := false
		for _, p := range procs {
			running = running || p.Background
		}
		if !running {
			break
		}
		if time.Now().After(deadline) {
			u, _, _ := q.Usage(ctx, alice)
			t.Fatalf("the busy loop still runs past alice's quota of %v CPU s (charged: %+v)", limit, u)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, under a deadline
	}
	u, _, err := q.Usage(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	measured, err := sb.Usage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if u.CPUSeconds < limit || u.CPUSeconds > measured.CPUTime.Seconds()+1e-3 {
		t.Errorf("charged %.3f CPU s when the loop was stopped; want at least the quota (%v) and at most the sandbox's %.3f",
			u.CPUSeconds, limit, measured.CPUTime.Seconds())
	}
	if u.MemoryMBSeconds <= 0 {
		t.Errorf("charged no memory-time for the loop: %+v", u)
	}
	if _, err := sb.Exec(ctx, "true", computemw.ExecOptions{}); !errors.Is(err, computemw.ErrQuotaExceeded) {
		t.Errorf("an execution in the sandbox after the quota was spent: %v, want QUOTA_EXCEEDED", err)
	}
	if _, err := kit.Execute(ctx, computemw.Run{Command: "true"}); !errors.Is(err, computemw.ErrQuotaExceeded) {
		t.Errorf("an execution after the quota was spent: %v, want QUOTA_EXCEEDED", err)
	}
	// Destroying the sandbox charges the rest: what its cgroup measured,
	// but for its start, and for the little its init used since this
	// reading (charging the loop twice would be about twice the reading).
	measured, err = sb.Usage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if u, _, err = q.Usage(ctx, alice); err != nil {
		t.Fatal(err)
	}
	if m := measured.CPUTime.Seconds(); u.CPUSeconds < m/2 || u.CPUSeconds > m*1.25+0.05 {
		t.Errorf("charged %.3f CPU s in all; the sandbox measured %.3f", u.CPUSeconds, m)
	}
	t.Logf("charged %.3f CPU s, %.1f MB-s; the sandbox measured %.3f CPU s", u.CPUSeconds, u.MemoryMBSeconds, measured.CPUTime.Seconds())
}

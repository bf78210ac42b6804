//go:build linux

package local_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// recyclingProvider is a provider whose pool holds one sandbox and makes
// it again at once, with recycling as configured.
func recyclingProvider(t *testing.T, rc local.RecycleConfig) *local.Provider {
	t.Helper()
	return newTestProvider(t, local.Config{WarmPool: local.PoolConfig{Size: 1, MaxSize: 1, Quiet: -1, Recycle: rc}})
}

// takeReady creates a sandbox once the pool has one ready, and checks the
// pool served it.
func takeReady(t *testing.T, p *local.Provider, owner string) computemw.Sandbox {
	t.Helper()
	if !eventually(30*time.Second, func() bool { return p.PoolStats().Ready > 0 }) {
		t.Fatalf("the pool has no ready sandbox: %+v", p.PoolStats())
	}
	hits := p.PoolStats().Hits
	sb, err := p.Create(t.Context(), computemw.CreateOptions{Owner: owner})
	if err != nil {
		t.Fatal(err)
	}
	if p.PoolStats().Hits != hits+1 {
		t.Fatalf("the create did not take the ready sandbox: %+v", p.PoolStats())
	}
	return sb
}

// A sandbox the pool handed out is reset and handed out again, under a
// new ID, and runs as a fresh one would.
func TestRecycledSandboxServesAgain(t *testing.T) {
	p := recyclingProvider(t, local.RecycleConfig{})
	ctx := t.Context()
	a := takeReady(t, p, "p:a")
	if r := run(t, a, "echo left > note; echo $$", computemw.ExecOptions{}); r.ExitCode != 0 {
		t.Fatalf("first: %+v", r)
	}
	if err := a.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if s := p.PoolStats(); s.Recycled != 1 || s.Ready < 1 {
		t.Fatalf("after the first user: %+v, want one recycled and ready", s)
	}
	b := takeReady(t, p, "p:b")
	defer b.Destroy(context.Background())
	if b.ID() == a.ID() {
		t.Errorf("the recycled sandbox kept its ID %s", a.ID())
	}
	r := run(t, b, "ls -A; echo done", computemw.ExecOptions{})
	if r.ExitCode != 0 || strings.TrimSpace(r.Stdout) != "done" {
		t.Errorf("second user sees %q (exit %d), want an empty workspace", r.Stdout, r.ExitCode)
	}
	if _, err := a.ReadFile(ctx, "note"); err == nil {
		t.Error("the first user's handle still reads the workspace")
	}
	if _, err := a.Exec(ctx, "true", computemw.ExecOptions{}); err == nil {
		t.Error("the first user's handle still runs commands")
	}
}

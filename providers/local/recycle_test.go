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

// recyclingProvider is a provider whose pool keeps one sandbox ready,
// made again at once, and room for one more, recycled, with recycling as
// configured.
func recyclingProvider(t *testing.T, rc local.RecycleConfig) *local.Provider {
	t.Helper()
	return newTestProvider(t, local.Config{WarmPool: local.PoolConfig{Size: 1, MaxSize: 2, Quiet: -1, Recycle: rc}})
}

// takeReady creates a sandbox for owner from the pool, and waits until
// the pool has made the one that replaces it (so that a sandbox recycled
// later is the newest, which the next create takes).
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
		t.Fatalf("the create did not take a ready sandbox: %+v", p.PoolStats())
	}
	if !eventually(30*time.Second, func() bool { return p.PoolStats().Ready > 0 }) {
		t.Fatalf("the pool made no sandbox again: %+v", p.PoolStats())
	}
	return sb
}

// takeRecycled is takeReady for a create that must get a recycled
// sandbox.
func takeRecycled(t *testing.T, p *local.Provider, owner string) computemw.Sandbox {
	t.Helper()
	sb := takeReady(t, p, owner)
	if local.SandboxUses(sb) == 0 {
		sb.Destroy(context.Background())
		t.Fatalf("the create got a sandbox never used: %+v", p.PoolStats())
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
	if s := p.PoolStats(); s.Recycled != 1 {
		t.Fatalf("after the first user: %+v, want one recycled", s)
	}
	b := takeRecycled(t, p, "p:b")
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

// What a program changes of the places it may write to — /dev, the modes
// of /tmp and the workspace, extended attributes — is undone by the
// reset: the next user sees them as a fresh sandbox has them.
func TestResetRestoresWritablePlaces(t *testing.T) {
	p := recyclingProvider(t, local.RecycleConfig{})
	const look = `ls -lA --time-style=+ /dev /dev/shm; stat -c '%n %a %U' /tmp /workspace /dev /dev/shm; ` +
		`python3 -c 'import os; print([(d, os.listxattr(d)) for d in ("/tmp", "/workspace", "/dev", "/dev/shm")])'`
	fresh := takeReady(t, p, "p:a")
	want := run(t, fresh, look, computemw.ExecOptions{}).Stdout
	leave := `mkdir -p /dev/d/e && touch /dev/d/e/f /dev/x /dev/shm/y && chmod 0 /dev/d; ` +
		`python3 -c 'import os; [os.setxattr(d, "user.left", b"1") for d in ("/tmp", "/workspace", "/dev/shm")]'; ` +
		`chmod 0 /tmp; chmod 0711 /workspace /dev/shm; chmod 0500 /dev; echo left`
	if r := run(t, fresh, leave, computemw.ExecOptions{}); r.ExitCode != 0 || !strings.Contains(r.Stdout, "left") {
		t.Fatalf("leave: %+v", r)
	}
	if got := run(t, fresh, look, computemw.ExecOptions{}).Stdout; got == want {
		t.Fatalf("the changes are not visible in the same sandbox: the check cannot fail\n%s", got)
	}
	if err := fresh.Destroy(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s := p.PoolStats(); s.Recycled != 1 {
		t.Fatalf("not recycled: %+v", s)
	}
	next := takeRecycled(t, p, "p:b")
	defer next.Destroy(context.Background())
	if got := run(t, next, look, computemw.ExecOptions{}).Stdout; got != want {
		t.Errorf("the next user sees\n%s\nwant, as in a fresh sandbox,\n%s", got, want)
	}
}

// A reset that finds what it does not restore — a standard stream's link
// in /dev replaced — destroys the sandbox rather than hand it out.
func TestResetThatFailsDestroys(t *testing.T) {
	p := recyclingProvider(t, local.RecycleConfig{})
	sb := takeReady(t, p, "p:a")
	if r := run(t, sb, "rm /dev/stdout && ln -s /tmp/caught /dev/stdout && echo replaced >&2", computemw.ExecOptions{}); !strings.Contains(r.Stderr, "replaced") {
		t.Fatalf("could not replace /dev/stdout: %+v", r)
	}
	if err := sb.Destroy(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s := p.PoolStats(); s.Recycled != 0 || s.ResetFailed != 1 {
		t.Fatalf("%+v, want the reset failed and nothing recycled", s)
	}
}

// useOnce creates a sandbox for owner, runs `true` in it and destroys it.
func useOnce(t *testing.T, p *local.Provider, owner string) {
	t.Helper()
	sb, err := p.Create(t.Context(), computemw.CreateOptions{Owner: owner})
	if err != nil {
		t.Fatal(err)
	}
	run(t, sb, "true", computemw.ExecOptions{})
	if err := sb.Destroy(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// A sandbox serves at most MaxUses creates, and none once it is older than
// MaxAge: then it is destroyed, not reset.
func TestRecycleBounds(t *testing.T) {
	t.Run("uses", func(t *testing.T) {
		p := recyclingProvider(t, local.RecycleConfig{MaxUses: 3})
		sb := takeReady(t, p, "p:a")
		for want := 1; want < 3; want++ {
			sb.Destroy(t.Context())
			sb = takeRecycled(t, p, "p:a")
			if got := local.SandboxUses(sb); got != want {
				t.Fatalf("use %d of the sandbox counts %d", want+1, got)
			}
		}
		recycled := p.PoolStats().Recycled
		sb.Destroy(t.Context())
		if s := p.PoolStats(); s.Recycled != recycled {
			t.Fatalf("after its third use: %+v, want the sandbox destroyed", s)
		}
	})
	t.Run("age", func(t *testing.T) {
		p := recyclingProvider(t, local.RecycleConfig{MaxAge: time.Nanosecond})
		useOnce(t, p, "p:a")
		if s := p.PoolStats(); s.Recycled != 0 {
			t.Fatalf("%+v, want the old sandbox destroyed", s)
		}
	})
}

// With SameOwner, a recycled sandbox goes only to its last owner: another
// owner, or a create with none, gets a fresh one.
func TestRecycleSameOwner(t *testing.T) {
	p := recyclingProvider(t, local.RecycleConfig{SameOwner: true})
	takeReady(t, p, "p:a").Destroy(t.Context())
	for _, other := range []string{"p:b", ""} {
		sb, err := p.Create(t.Context(), computemw.CreateOptions{Owner: other})
		if err != nil {
			t.Fatal(err)
		}
		if local.SandboxUses(sb) != 0 {
			t.Errorf("owner %q got a's sandbox", other)
		}
		sb.Destroy(t.Context())
	}
	if s := p.PoolStats(); s.Recycled != 2 {
		t.Errorf("%+v, want a's and b's sandboxes recycled, not that of the create without an owner", s)
	}
	sb := takeRecycled(t, p, "p:a")
	sb.Destroy(t.Context())
}

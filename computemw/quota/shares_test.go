package quota_test

import (
	"context"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/quota"
)

// A plan's shares reach the kit on every creation it authorizes.
func TestPlanSharesSetOnCreations(t *testing.T) {
	q, err := quota.New(quota.Config{})
	if err != nil {
		t.Fatal(err)
	}
	free := quota.DefaultPlans()["free"]
	ctx := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "u1", Plan: "free"})
	a := &computemw.Action{Op: computemw.OpSessions, CreatesSandbox: true}
	if err := q.Authorize(ctx, a); err != nil {
		t.Fatal(err)
	}
	if a.MaxSandboxes != free.Sandboxes || a.MaxSessions != free.Sessions || a.MaxSessionLifetime != free.SessionLifetime ||
		a.MaxSessions == 0 {
		t.Errorf("action caps %d/%d/%v, want the free plan's %d/%d/%v", a.MaxSandboxes, a.MaxSessions, a.MaxSessionLifetime,
			free.Sandboxes, free.Sessions, free.SessionLifetime)
	}
}

// Idle time of a held sandbox is charged as Config.IdleSessionMB of
// memory for that time.
func TestIdleTimeCharged(t *testing.T) {
	q, err := quota.New(quota.Config{IdleSessionMB: 100})
	if err != nil {
		t.Fatal(err)
	}
	p := computemw.Principal{ID: "u1", Plan: "pro"}
	ctx := computemw.WithPrincipal(context.Background(), p)
	if err := q.MeterUsage(ctx, &computemw.Action{}, &computemw.Metered{IdleTime: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	u, _, err := q.Usage(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if u.MemoryMBSeconds != 3000 {
		t.Errorf("30 s idle at 100 MB charged %v MB-s, want 3000", u.MemoryMBSeconds)
	}
	// Once the memory quota is spent, the meter refuses: the kit stops the
	// sandbox's work, and new work is refused.
	err = q.MeterUsage(ctx, &computemw.Action{}, &computemw.Metered{IdleTime: 10 * time.Hour})
	if e := computemw.AsError(err); e == nil || e.Code != computemw.CodeQuotaExceeded {
		t.Errorf("idle past the pro plan's memory quota: %v, want QUOTA_EXCEEDED", err)
	}
}

package computemw_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/fakeprovider"
)

func newKit(t *testing.T, cfg computemw.Config) (*computemw.Kit, *fakeprovider.Provider) {
	t.Helper()
	return computemwtest.SuiteKit(t, cfg)
}

func TestNewValidates(t *testing.T) {
	if _, err := computemw.New(computemw.Config{}); err == nil {
		t.Error("a kit without providers was accepted")
	}
	fake := fakeprovider.New("a")
	if _, err := computemw.New(computemw.Config{Providers: []computemw.Provider{fake, fake}}); err == nil {
		t.Error("a duplicate provider name was accepted")
	}
	if _, err := computemw.New(computemw.Config{Providers: []computemw.Provider{fake}, DefaultProvider: "b"}); err == nil {
		t.Error("an unregistered default provider was accepted")
	}
}

func TestCapacity(t *testing.T) {
	kit, fake := newKit(t, computemw.Config{MaxSandboxes: 2, QueueTimeout: -1})
	ctx := context.Background()
	a, relA, err := kit.Acquire(ctx, "", computemw.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, relB, err := kit.Acquire(ctx, "", computemw.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = kit.Acquire(ctx, "", computemw.CreateOptions{})
	var e *computemw.Error
	if !errors.As(err, &e) || e.Code != computemw.CodeUnavailable || e.RetryAfter <= 0 {
		t.Fatalf("third sandbox: %v", err)
	}
	relA()
	relA() // idempotent
	if _, err := a.Exec(ctx, "echo x", computemw.ExecOptions{}); err == nil {
		t.Error("exec on a released sandbox succeeded")
	}
	_, relC, err := kit.Acquire(ctx, "", computemw.CreateOptions{})
	if err != nil {
		t.Fatalf("slot not freed: %v", err)
	}
	relB()
	relC()
	if kit.Stats().Live != 0 || fake.Live() != 0 {
		t.Errorf("live: kit %d, provider %d", kit.Stats().Live, fake.Live())
	}
}

func TestCreateFailureFreesSlot(t *testing.T) {
	kit, fake := newKit(t, computemw.Config{MaxSandboxes: 1})
	fake.CreateErr = errors.New("boom")
	for range 3 {
		if _, _, err := kit.Acquire(context.Background(), "", computemw.CreateOptions{}); computemw.StatusOf(err) != 500 {
			t.Fatalf("create failure: %v", err)
		}
	}
	fake.CreateErr = nil
	_, rel, err := kit.Acquire(context.Background(), "", computemw.CreateOptions{})
	if err != nil {
		t.Fatalf("slot leaked by failed creates: %v", err)
	}
	rel()
}

func TestCloseWaitsThenDestroys(t *testing.T) {
	kit, fake := newKit(t, computemw.Config{})
	ctx := context.Background()
	sb, rel, err := kit.Acquire(ctx, "", computemw.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A session-like sandbox nobody releases: Close must destroy it when
	// its deadline passes.
	if _, err := kit.Create(ctx, "", computemw.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	cctx, cancel := context.WithCancel(ctx)
	go func() { closed <- kit.Close(cctx) }()

	// While closing, new sandboxes are refused and running ones still work.
	waitFor(t, func() bool {
		_, _, err := kit.Acquire(ctx, "", computemw.CreateOptions{})
		return computemw.StatusOf(err) == 503
	})
	if r, err := sb.Exec(ctx, "echo still", computemw.ExecOptions{}); err != nil || r.Stdout != "still\n" {
		t.Fatalf("running sandbox during close: %v %v", r, err)
	}
	rel()
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v while a sandbox was still held", err)
	default:
	}
	cancel()
	if err := <-closed; !errors.Is(err, context.Canceled) {
		t.Errorf("Close: %v", err)
	}
	if fake.Live() != 0 {
		t.Errorf("%d sandboxes left after Close", fake.Live())
	}
}

// waitFor retries cond a bounded number of times; each try is a real
// operation, not a sleep.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
	}
	t.Fatal("condition never held")
}

func TestHealthFloodRunsOneProbe(t *testing.T) {
	kit, fake := newKit(t, computemw.Config{HealthInterval: time.Hour})
	var wg sync.WaitGroup
	for range 1000 {
		wg.Go(func() {
			if rep := kit.Health(context.Background()); rep.Status != "healthy" || rep.Services["fake"] != "healthy" {
				t.Errorf("health: %+v", rep)
			}
		})
	}
	wg.Wait()
	if n := fake.Created(); n != 1 {
		t.Errorf("1000 health checks created %d probe sandboxes, want 1", n)
	}
}

func TestHealthDegraded(t *testing.T) {
	fake := fakeprovider.New("down")
	fake.CreateErr = errors.New("no capacity")
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{fake}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	rep := kit.Health(context.Background())
	if rep.Status != "degraded" || rep.Services["down"] != "unhealthy" {
		t.Errorf("health: %+v", rep)
	}
}

func TestReadyDuringShutdown(t *testing.T) {
	kit, _ := newKit(t, computemw.Config{})
	ready := func() int {
		return computemwtest.ServePath(context.Background(), kit, http.MethodGet, "/ready", "", nil).Status
	}
	if s := ready(); s != 200 {
		t.Fatalf("ready: %d", s)
	}
	_, rel, err := kit.Acquire(context.Background(), "", computemw.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = kit.Close(context.Background()) })
	waitFor(t, func() bool { return ready() == 503 })
	rel()
	wg.Wait()
}

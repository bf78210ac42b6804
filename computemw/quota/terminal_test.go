package quota_test

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/fakeprovider"
	"github.com/computemw/kit/computemw/internal/policytest"
	"github.com/computemw/kit/computemw/quota"
)

// burningProvider's sandboxes use one more CPU second each time their
// usage is read, and open terminals that run until closed: a terminal
// burning CPU, without real processes.
type burningProvider struct{ *fakeprovider.Provider }

func (p burningProvider) Create(ctx context.Context, o computemw.CreateOptions) (computemw.Sandbox, error) {
	sb, err := p.Provider.Create(ctx, o)
	if err != nil {
		return nil, err
	}
	return &burningSandbox{Sandbox: sb}, nil
}

type burningSandbox struct {
	computemw.Sandbox
	cpu  atomic.Int64
	gone atomic.Bool
}

// Usage counts like a cgroup: gone with the sandbox.
func (s *burningSandbox) Usage(context.Context) (computemw.Usage, error) {
	if s.gone.Load() {
		return computemw.Usage{}, nil
	}
	return computemw.Usage{CPUTime: time.Duration(s.cpu.Add(1)) * time.Second}, nil
}

func (s *burningSandbox) Destroy(ctx context.Context) error {
	s.gone.Store(true)
	return s.Sandbox.Destroy(ctx)
}

func (s *burningSandbox) OpenTerminal(context.Context, computemw.TerminalOptions) (computemw.Terminal, error) {
	return &openTerminal{closed: make(chan struct{})}, nil
}

type openTerminal struct {
	once   sync.Once
	closed chan struct{}
}

func (t *openTerminal) Read([]byte) (int, error)    { <-t.closed; return 0, io.EOF }
func (t *openTerminal) Write(p []byte) (int, error) { return len(p), nil }
func (t *openTerminal) Resize(uint16, uint16) error { return nil }
func (t *openTerminal) Close() error                { t.once.Do(func() { close(t.closed) }); return nil }
func (t *openTerminal) Wait() (int, error)          { <-t.closed; return 0, nil }

// A terminal is charged through the governed path, and stopped once its
// caller's CPU quota is spent — not only charged when it ends.
func TestQuotaStopsATerminal(t *testing.T) {
	q, err := quota.New(quota.Config{Plans: map[string]quota.Limits{"free": {CPUSeconds: 5}}, Logger: policytest.DiscardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	kit := policytest.NewKit(t, computemw.Config{
		Providers:          []computemw.Provider{burningProvider{fakeprovider.New("fake")}},
		Policies:           []computemw.Policy{q},
		UsageCheckInterval: time.Millisecond,
	})
	ctx := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "alice", Plan: "free"})
	sb, err := kit.Create(ctx, "", computemw.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Destroy(ctx)
	term, err := sb.(computemw.TerminalOpener).OpenTerminal(ctx, computemw.TerminalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		_, _ = term.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the terminal went on past its caller's CPU quota")
	}
	u, _, err := q.Usage(ctx, computemw.Principal{ID: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if u.Executions != 1 || u.CPUSeconds < 5 {
		t.Errorf("usage after the terminal: %+v, want 1 execution and at least 5 CPU seconds", u)
	}
	if _, err := sb.(computemw.TerminalOpener).OpenTerminal(ctx, computemw.TerminalOptions{}); !errors.Is(err, computemw.ErrQuotaExceeded) {
		t.Errorf("a terminal with the quota spent: %v, want QUOTA_EXCEEDED", err)
	}
}

// A terminal still open when its sandbox is destroyed is charged for what
// it used: it ends before the sandbox (and its accounting) goes.
func TestQuotaChargesATerminalEndedByDestroy(t *testing.T) {
	q, err := quota.New(quota.Config{Plans: map[string]quota.Limits{"free": {CPUSeconds: 1000}}, Logger: policytest.DiscardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	kit := policytest.NewKit(t, computemw.Config{
		Providers: []computemw.Provider{burningProvider{fakeprovider.New("fake")}},
		Policies:  []computemw.Policy{q},
	})
	ctx := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "alice", Plan: "free"})
	sb, err := kit.Create(ctx, "", computemw.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sb.(computemw.TerminalOpener).OpenTerminal(ctx, computemw.TerminalOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := sb.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	u, _, err := q.Usage(ctx, computemw.Principal{ID: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if u.Executions != 1 || u.CPUSeconds <= 0 {
		t.Errorf("usage after a terminal ended by Destroy: %+v, want its CPU charged", u)
	}
}

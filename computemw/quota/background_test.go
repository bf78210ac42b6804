package quota_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/fakeprovider"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/computemw/kit/computemw/internal/policytest"
	"github.com/computemw/kit/computemw/quota"
)

// spinningProvider's sandboxes run background processes that never end by
// themselves and burn one CPU second each time the sandbox's usage is
// read while one runs: a busy loop on a clock the test controls.
type spinningProvider struct {
	*fakeprovider.Provider
	mu  sync.Mutex
	sbs []*spinningSandbox
}

func (p *spinningProvider) Create(ctx context.Context, o computemw.CreateOptions) (computemw.Sandbox, error) {
	sb, err := p.Provider.Create(ctx, o)
	if err != nil {
		return nil, err
	}
	s := &spinningSandbox{Sandbox: sb, killed: make(chan struct{})}
	p.mu.Lock()
	p.sbs = append(p.sbs, s)
	p.mu.Unlock()
	return s, nil
}

func (p *spinningProvider) only(t *testing.T) *spinningSandbox {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.sbs) != 1 {
		t.Fatalf("%d sandboxes, want 1", len(p.sbs))
	}
	return p.sbs[0]
}

type spinningSandbox struct {
	computemw.Sandbox
	mu      sync.Mutex
	running bool
	cpu     time.Duration
	killed  chan struct{}
}

func (s *spinningSandbox) Usage(context.Context) (computemw.Usage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		s.cpu += time.Second
	}
	return computemw.Usage{CPUTime: s.cpu, PeakMemory: 10 << 20}, nil
}

func (s *spinningSandbox) StartProcess(context.Context, string, computemw.ProcessOptions) (computemw.ProcessInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running = true
	return computemw.ProcessInfo{PID: 2, Command: "while :; do :; done", Background: true}, nil
}

func (s *spinningSandbox) Processes(context.Context) ([]computemw.ProcessInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return nil, nil
	}
	return []computemw.ProcessInfo{{PID: 2, Command: "while :; do :; done", Background: true}}, nil
}

func (s *spinningSandbox) KillProcess(_ context.Context, pid int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if pid != 2 || !s.running {
		return computemw.Errorf(computemw.CodeNotFound, "no process %d", pid)
	}
	s.running = false
	close(s.killed)
	return nil
}

func (s *spinningSandbox) measured() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cpu
}

// A background process of a session is charged what its sandbox measures
// as it runs, is stopped once the CPU quota is spent, and the next
// execution is refused.
func TestQuotaMetersBackgroundProcesses(t *testing.T) {
	q, err := quota.New(quota.Config{Plans: map[string]quota.Limits{"free": {CPUSeconds: 5}}, Logger: policytest.DiscardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	prov := &spinningProvider{Provider: fakeprovider.New("fake")}
	kit := policytest.NewKit(t, computemw.Config{
		Providers:          []computemw.Provider{prov},
		Policies:           []computemw.Policy{q},
		UsageCheckInterval: time.Millisecond,
	})
	alice := computemw.Principal{ID: "alice", Plan: "free"}
	ctx := computemw.WithPrincipal(context.Background(), alice)
	resp := policytest.Post(ctx, kit, "/sandboxes", `{}`, nil)
	if resp.Status != 201 {
		t.Fatalf("create session: %d %s", resp.Status, resp.Body)
	}
	var info computemw.SessionInfo
	if err := json.Unmarshal(resp.Body, &info); err != nil {
		t.Fatal(err)
	}
	resp = startProcess(ctx, kit, info.SandboxID, "while :; do :; done")
	if resp.Status != 201 {
		t.Fatalf("start process: %d %s", resp.Status, resp.Body)
	}
	sb := prov.only(t)
	select {
	case <-sb.killed:
	case <-time.After(10 * time.Second):
		t.Fatalf("the background process still runs past the CPU quota (the sandbox measured %v)", sb.measured())
	}
	u, _, err := q.Usage(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	// Every CPU second the sandbox measured is charged, once.
	if want := sb.measured().Seconds(); u.CPUSeconds < 5 || u.CPUSeconds != want {
		t.Errorf("charged %v CPU seconds; the sandbox measured %v, the quota is 5", u.CPUSeconds, want)
	}
	if u.MemoryMBSeconds <= 0 {
		t.Errorf("charged no memory for the background process: %+v", u)
	}
	if u.Executions != 1 {
		t.Errorf("executions: %d, want 1 (the launch)", u.Executions)
	}
	resp = policytest.Post(ctx, kit, "/exec", `{"command":"echo hi","sandboxId":"`+info.SandboxID+`"}`, nil)
	if resp.Status != 429 || !json.Valid(resp.Body) || !containsCode(resp.Body, "QUOTA_EXCEEDED") {
		t.Errorf("the next execution: %d %s, want 429 QUOTA_EXCEEDED", resp.Status, resp.Body)
	}
	resp = startProcess(ctx, kit, info.SandboxID, "while :; do :; done")
	if resp.Status != 429 {
		t.Errorf("the next background process: %d %s, want 429", resp.Status, resp.Body)
	}
}

// What executions report is not charged again by the meter: a sandbox
// whose usage is exactly what its executions measured is charged that
// once.
func TestQuotaMeterDoesNotChargeExecutionsTwice(t *testing.T) {
	q, err := quota.New(quota.Config{Plans: map[string]quota.Limits{"free": {CPUSeconds: 1000}}, Logger: policytest.DiscardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	prov := &countingProvider{Provider: fakeprovider.New("fake")}
	kit := policytest.NewKit(t, computemw.Config{
		Providers:          []computemw.Provider{prov},
		Policies:           []computemw.Policy{q},
		UsageCheckInterval: time.Millisecond,
	})
	alice := computemw.Principal{ID: "alice", Plan: "free"}
	ctx := computemw.WithPrincipal(context.Background(), alice)
	sb, err := kit.Create(ctx, "", computemw.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := sb.Exec(ctx, "echo hi", computemw.ExecOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := sb.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	u, _, err := q.Usage(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	if u.Executions != 5 || u.CPUSeconds != 5*2 {
		t.Errorf("usage: %+v, want 5 executions and 10 CPU seconds (2 each)", u)
	}
}

// countingProvider's executions use 2 CPU seconds each, which both their
// Results and their sandbox's usage show.
type countingProvider struct{ *fakeprovider.Provider }

func (p *countingProvider) Create(ctx context.Context, o computemw.CreateOptions) (computemw.Sandbox, error) {
	sb, err := p.Provider.Create(ctx, o)
	if err != nil {
		return nil, err
	}
	return &countingSandbox{Sandbox: sb}, nil
}

type countingSandbox struct {
	computemw.Sandbox
	mu  sync.Mutex
	cpu time.Duration
}

func (s *countingSandbox) Exec(ctx context.Context, command string, opts computemw.ExecOptions) (*computemw.Result, error) {
	res, err := s.Sandbox.Exec(ctx, command, opts)
	if res != nil {
		s.mu.Lock()
		s.cpu += 2 * time.Second
		s.mu.Unlock()
		res.CPUTime = 2 * time.Second
	}
	return res, err
}

func (s *countingSandbox) Usage(context.Context) (computemw.Usage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return computemw.Usage{CPUTime: s.cpu}, nil
}

// startProcess serves POST /sandboxes/{id}/processes.
func startProcess(ctx context.Context, kit *computemw.Kit, id, command string) *httpapi.Response {
	body, _ := json.Marshal(httpapi.StartProcessRequest{Command: command})
	return httpapi.New(kit).ServeRoute(ctx, computemwtest.RouteOf(kit, "/sandboxes/{id}/processes"), &computemw.Request{
		Method: http.MethodPost, Header: http.Header{"Content-Type": {"application/json"}}, Body: bytes.NewReader(body),
		RemoteAddr: "127.0.0.1:40000", Params: map[string]string{"id": id},
	})
}

func containsCode(body []byte, code string) bool {
	var e struct {
		Code  string `json:"code"`
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Code == code || e.Error.Code == code
}

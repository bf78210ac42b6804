package computemwtest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/auth"
	"github.com/computemw/kit/computemw/fakeprovider"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/computemw/kit/computemw/internal/outcome"
	"github.com/computemw/kit/computemw/prommetrics"
	"github.com/computemw/kit/computemw/quota"
	"github.com/computemw/kit/computemw/ratelimit"
	"github.com/computemw/kit/computemw/rbac"
	"github.com/ulule/limiter/v3"
)

// The caller of a [GovernedKit]: an API key for principal "gov", whose role
// "governed" may do everything within GovernedTimeLimit per execution.
const (
	GovernedAPIKey    = "governed-suite-key"
	GovernedTimeLimit = 100 * time.Millisecond
)

// RunPath is a POST route behind the adapter's sandbox middleware whose
// handler runs the body's command in the request's sandbox with
// [RunInRequest] and answers 200 with the result's JSON, or hands the error
// to the framework's error path.
const RunPath = "/mw/run"

// RunInRequest runs the command of body ({"command": "..."}) in the
// request's sandbox from the middleware, as an application's handler does,
// asking for a timeout far above GovernedTimeLimit: the kit must hold it
// to the caller's role.
func RunInRequest(ctx context.Context, body io.Reader) (*httpapi.ExecutionResponse, error) {
	var req struct {
		Command string `json:"command"`
		// Timeout is read and ignored: the handler asks for a minute.
		Timeout *float64 `json:"timeout"`
	}
	if err := httpapi.DecodeJSON(body, 1<<16, &req); err != nil {
		return nil, err
	}
	sb := computemw.SandboxFrom(ctx)
	if sb == nil {
		return nil, computemw.Errorf(computemw.CodeInternal, "no sandbox in the request")
	}
	res, err := sb.Exec(ctx, req.Command, computemw.ExecOptions{Timeout: time.Minute})
	if err != nil {
		return nil, err
	}
	return &httpapi.ExecutionResponse{Success: res.ExitCode == 0, Output: res.Stdout, ExitCode: res.ExitCode,
		SandboxID: res.SandboxID, Provider: res.Provider}, nil
}

// Governed is a kit guarded by every policy (API-key authentication, RBAC
// with a time limit, rate limits, quotas), with Prometheus metrics, a
// recording [Hooks] and a counted execution log, over a metered fake
// provider whose executions each report [Measured].
type Governed struct {
	Kit   *computemw.Kit
	Fake  *fakeprovider.Provider
	Quota *quota.Quota
	Hooks *RecordingHooks
	logs  *countingHandler
}

// GovernedKit builds a [Governed] kit, closed at cleanup.
func GovernedKit(t testing.TB) *Governed {
	t.Helper()
	authn, err := auth.New(auth.Config{APIKeys: map[string]computemw.Principal{
		auth.HashAPIKey(GovernedAPIKey): {ID: "gov", Role: "governed", Plan: "pro"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	roles, err := rbac.New(rbac.Config{Roles: map[string]rbac.Permissions{
		"governed": {CanExecuteCode: true, CanAccessFiles: true, CanCreateSandbox: true, AllowedProviders: []string{"*"},
			ResourceLimits: rbac.ResourceLimits{MaxExecutionTime: GovernedTimeLimit}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	rl, err := ratelimit.New(ratelimit.Config{Tiers: map[string]limiter.Rate{
		"free": {Period: time.Hour, Limit: 10_000}, "pro": {Period: time.Hour, Limit: 10_000},
	}})
	if err != nil {
		t.Fatal(err)
	}
	q, err := quota.New(quota.Config{Plans: map[string]quota.Limits{"free": {Executions: 10_000}, "pro": {Executions: 10_000}}, Period: quota.Daily})
	if err != nil {
		t.Fatal(err)
	}
	g := &Governed{Quota: q, Hooks: &RecordingHooks{}, logs: &countingHandler{msg: "computemw: execution"}}
	g.Kit, g.Fake = MeteredKit(t, computemw.Config{
		Policies: []computemw.Policy{authn, roles, rl, q},
		Hooks:    []*computemw.Hooks{g.Hooks.Hooks()},
		Metrics:  prommetrics.New(prommetrics.Options{}),
		Logger:   slog.New(g.logs),
	}, Measured)
	return g
}

// Credentials returns the headers of the governed caller.
func (g *Governed) Credentials() http.Header {
	return http.Header{"X-Api-Key": {GovernedAPIKey}}
}

// GovernedSnapshot is what a [Governed] kit has counted so far.
type GovernedSnapshot struct {
	executions map[string]float64 // compute_executions_total{fake,command,status} by status
	logged     int
	finished   int
	created    int64
	usage      quota.Usage
}

// Snapshot records the kit's counts before an execution.
func (g *Governed) Snapshot(t testing.TB) GovernedSnapshot {
	t.Helper()
	s := GovernedSnapshot{executions: map[string]float64{}, logged: g.logs.count(), finished: len(g.Hooks.Finished()),
		created: g.Fake.Created()}
	for _, st := range outcome.All() {
		s.executions[st] = MetricValue(t, g.Kit, "compute_executions_total", map[string]string{"provider": "fake", "language": "command", "status": st})
	}
	u, _, err := g.Quota.Usage(context.Background(), computemw.Principal{ID: "gov"})
	if err != nil {
		t.Fatal(err)
	}
	s.usage = u
	return s
}

// CheckOneExecution checks that exactly one command execution with status
// ran since before: admitted and authorized (the hooks saw it once, held
// to GovernedTimeLimit), counted in compute_executions_total, logged once
// and charged to the caller's quota (one execution and its measured CPU).
func (g *Governed) CheckOneExecution(t testing.TB, before GovernedSnapshot, status string) {
	t.Helper()
	after := g.Snapshot(t)
	for _, st := range outcome.All() {
		want := before.executions[st]
		if st == status {
			want++
		}
		if got := after.executions[st]; got != want {
			t.Errorf("compute_executions_total{status=%q} = %v, want %v", st, got, want)
		}
	}
	if n := after.logged - before.logged; n != 1 {
		t.Errorf("%d execution log lines, want 1", n)
	}
	fin := g.Hooks.Finished()
	if n := len(fin) - before.finished; n != 1 {
		t.Errorf("hooks saw %d finished executions, want 1", n)
	} else if f := fin[len(fin)-1]; f.Timeout <= 0 || f.Timeout > GovernedTimeLimit || f.Status != status {
		t.Errorf("hooks saw %+v, want status %s within the role's %v", f, status, GovernedTimeLimit)
	}
	if d := after.usage.Executions - before.usage.Executions; d != 1 {
		t.Errorf("quota charged %d executions, want 1", d)
	}
	if d := after.usage.CPUSeconds - before.usage.CPUSeconds; d < Measured.CPUTime.Seconds()*0.999 {
		t.Errorf("quota charged %.3f CPU seconds, want %.3f", d, Measured.CPUTime.Seconds())
	}
}

// CheckNothing checks that nothing was created, run or charged since
// before (a refused caller).
func (g *Governed) CheckNothing(t testing.TB, before GovernedSnapshot) {
	t.Helper()
	after := g.Snapshot(t)
	if after.created != before.created {
		t.Errorf("a refused caller created %d sandboxes", after.created-before.created)
	}
	if after.finished != before.finished || after.usage != before.usage {
		t.Errorf("a refused caller ran or was charged: %d executions, usage %+v → %+v",
			after.finished-before.finished, before.usage, after.usage)
	}
}

// RecordingHooks records the executions the kit reports.
type RecordingHooks struct {
	once     sync.Once
	hooks    *computemw.Hooks
	mu       sync.Mutex
	finished []FinishedExecution
}

// FinishedExecution is one execution reported to [RecordingHooks].
type FinishedExecution struct {
	Op      computemw.Op
	Timeout time.Duration
	Status  string
}

// Hooks returns the hooks that record, the same on every call.
func (h *RecordingHooks) Hooks() *computemw.Hooks {
	h.once.Do(func() { h.hooks = &computemw.Hooks{ExecutionFinished: h.executionFinished} })
	return h.hooks
}

func (h *RecordingHooks) executionFinished(_ context.Context, a *computemw.Action, res *computemw.Result, err error, _ time.Duration) {
	status := outcome.Of(false, 0, "")
	if err != nil {
		status = outcome.Of(true, 0, string(computemw.AsError(err).Code))
	} else if res != nil {
		status = outcome.Of(false, res.ExitCode, "")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.finished = append(h.finished, FinishedExecution{Op: a.Op, Timeout: a.Timeout, Status: status})
}

// Finished returns the executions reported so far.
func (h *RecordingHooks) Finished() []FinishedExecution {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]FinishedExecution(nil), h.finished...)
}

// countingHandler is a slog.Handler that counts records with one message.
type countingHandler struct {
	msg string
	mu  sync.Mutex
	n   int
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.mu.Lock()
		h.n++
		h.mu.Unlock()
	}
	return nil
}

func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

func (h *countingHandler) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

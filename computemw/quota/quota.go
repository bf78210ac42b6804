package quota

import (
	"context"
	"fmt"
	"github.com/computemw/kit/computemw"
	"log/slog"
	"maps"
	"sync/atomic"
	"time"
)

// Limits cap one principal's usage in a period, and its share of the
// kit's capacity at any time; a zero field is unlimited (for the shares:
// the kit's own per-caller caps).
type Limits struct {
	Executions      int64
	CPUSeconds      float64
	MemoryMBSeconds float64
	// Sandboxes caps the sandboxes the principal holds at once, Sessions
	// its live sessions, and SessionLifetime how long one of its sessions
	// lives from its creation, however often it is used. They lower
	// computemw.Config's MaxSandboxesPerPrincipal,
	// MaxSessionsPerPrincipal and MaxSessionLifetime.
	Sandboxes       int
	Sessions        int
	SessionLifetime time.Duration
}

// DefaultPlans returns the default quota limits by plan, per period:
// free 100 executions, 60 CPU seconds and 60,000 MB-seconds, 4 sandboxes
// and 2 sessions at once, sessions living at most an hour; pro 10,000
// executions, 3,600 CPU seconds, 3,600,000 MB-seconds, 16 sandboxes and
// 10 sessions living at most 24 hours; enterprise unlimited (the kit's
// own caps).
func DefaultPlans() map[string]Limits {
	return map[string]Limits{
		"free": {Executions: 100, CPUSeconds: 60, MemoryMBSeconds: 60_000,
			Sandboxes: 4, Sessions: 2, SessionLifetime: time.Hour},
		"pro": {Executions: 10_000, CPUSeconds: 3_600, MemoryMBSeconds: 3_600_000,
			Sandboxes: 16, Sessions: 10, SessionLifetime: 24 * time.Hour},
		"enterprise": {},
	}
}

// Config configures [New].
type Config struct {
	// Store keeps usage; nil means [NewMemoryStore].
	Store Store
	// Plans are the limits by [Principal].Plan; nil means
	// [DefaultPlans].
	Plans map[string]Limits
	// DefaultPlan is the plan of principals whose plan is not in Plans;
	// default "free".
	DefaultPlan string
	// Period is the accounting window; nil means [Monthly].
	Period PeriodFunc
	// FailOpen admits executions when the store fails. By default the kit
	// fails closed: 503 UNAVAILABLE.
	FailOpen bool
	// Logger receives store failures; default slog.Default().
	Logger *slog.Logger
	// IdleSessionMB is the memory an idle session (or a connection's
	// sandbox) is charged as holding, in MB, for the time it is held with
	// nothing running: holding a sandbox holds capacity. Default 64; a
	// negative value charges nothing.
	IdleSessionMB float64
}

// quotaWriteTimeout bounds recording usage after an execution. A record
// that times out is lost, so it is generous: a burst of executions
// queues its writes behind a store that takes one at a time (SQLite
// shared by processes on one host waits for its file lock), and the
// write holds no request, only its goroutine.
const quotaWriteTimeout = 30 * time.Second

// Quota enforces usage quotas per principal and period. It is both a
// [computemw.Policy] and, by its [Quota.Hooks], an observer: list it in
// Config.Policies, after the authenticator (the kit registers its hooks
// too).
//
// As a policy, its Authorize reserves one execution for every execution
// action (an execute, an exec or a terminal, from any entry point) by
// atomically adding it to the store, and refuses with 429 QUOTA_EXCEEDED
// (Retry-After: the end of the period), rolling the reservation back, when
// that goes over the limit or when the CPU or memory quota is spent —
// before any sandbox is created for it. So a quota of N admits exactly N,
// however many instances share the store. Other actions that create a
// sandbox are refused once any quota is spent. The reservation is kept
// with the action (in [computemw.Action].Values).
//
// As hooks, it records the CPU seconds and memory-MB-seconds each
// execution measured (Result.CPUTime, Result.PeakMemory ×
// Result.ExecutionTime), also for executions stopped by a timeout or a
// resource limit, and for terminals when they end. As a
// [computemw.UsageMeter], it charges what sandboxes use besides
// (background processes), as the kit measures it, and stops that work once
// the CPU or memory quota is spent. A reservation is given
// back when the execution could not run at all, or when the action was
// refused after the reservation (by a later policy or the sandbox cap).
type Quota struct {
	hooks       *computemw.Hooks
	store       Store
	plans       map[string]Limits
	defaultPlan string
	period      PeriodFunc
	failOpen    bool
	idleMB      float64 // Config.IdleSessionMB
	log         *slog.Logger
	current     atomic.Pointer[Period] // the period of the last lookup
}

// New builds a Quota from cfg.
func New(cfg Config) (*Quota, error) {
	q := &Quota{store: cfg.Store, plans: cfg.Plans, defaultPlan: cfg.DefaultPlan, period: cfg.Period, failOpen: cfg.FailOpen, log: cfg.Logger}
	if q.store == nil {
		q.store = NewMemoryStore()
	}
	if q.plans == nil {
		q.plans = DefaultPlans()
	}
	q.plans = maps.Clone(q.plans)
	if q.defaultPlan == "" {
		q.defaultPlan = "free"
	}
	if _, ok := q.plans[q.defaultPlan]; !ok {
		return nil, fmt.Errorf("computemw: quota: default plan %q is not in Plans", q.defaultPlan)
	}
	if q.period == nil {
		q.period = Monthly
	}
	if q.log == nil {
		q.log = slog.Default()
	}
	switch q.idleMB = cfg.IdleSessionMB; {
	case q.idleMB == 0:
		q.idleMB = 64
	case q.idleMB < 0:
		q.idleMB = 0
	}
	q.hooks = &computemw.Hooks{ExecutionFinished: q.ExecutionFinished, RequestRejected: q.RequestRejected}
	return q, nil
}

// Hooks returns the quota's hooks, which record what executions used and
// give back what refused actions reserved: the kit registers them when
// the quota is in Config.Policies.
func (q *Quota) Hooks() *computemw.Hooks { return q.hooks }

// periodAt returns the period containing now, reusing the last one while
// it lasts.
func (q *Quota) periodAt(now time.Time) Period {
	if p := q.current.Load(); p != nil && !now.Before(p.Start) && now.Before(p.End) {
		return *p
	}
	p := q.period(now)
	q.current.Store(&p)
	return p
}

// Store returns the quota's store.
func (q *Quota) Store() Store { return q.store }

// Limits returns the limits of plan (the default plan's when plan is
// unknown).
func (q *Quota) Limits(plan string) Limits {
	if l, ok := q.plans[plan]; ok {
		return l
	}
	return q.plans[q.defaultPlan]
}

// Usage returns p's usage in the current period.
func (q *Quota) Usage(ctx context.Context, p computemw.Principal) (Usage, Period, error) {
	period := q.periodAt(time.Now())
	u, err := q.store.Get(ctx, p.ID, period)
	if err != nil {
		return Usage{}, period, fmt.Errorf("computemw: quota: %w", err)
	}
	return u, period, nil
}

// ticketKey keeps an action's reservation with the action.
type ticketKey struct{}

// ticket follows one action's reservation from Authorize to the end of its
// execution, or to its refusal.
type ticket struct {
	settled bool
	key     string
	period  Period
}

// Admit implements [computemw.Policy]; quotas act on actions.
func (q *Quota) Admit(ctx context.Context, _ computemw.Op, _ *computemw.Request) (context.Context, error) {
	return ctx, nil
}

// Authorize implements [Policy]: it reserves an execution, or checks that
// no quota is spent, before a sandbox is created.
func (q *Quota) Authorize(ctx context.Context, a *computemw.Action) error {
	counts := a.Op == computemw.OpExecute || a.Op == computemw.OpExec || a.Op == computemw.OpTerminal
	if !counts && !a.CreatesSandbox {
		return nil
	}
	p, ok := computemw.PrincipalFrom(ctx)
	if !ok || p.ID == "" {
		return &computemw.Error{Code: computemw.CodeUnauthorized, Message: "authentication required"}
	}
	limits := q.Limits(p.Plan)
	period := q.periodAt(time.Now())
	if a.CreatesSandbox {
		a.MaxSandboxes, a.MaxSessions, a.MaxSessionLifetime = limits.Sandboxes, limits.Sessions, limits.SessionLifetime
	}
	if !counts {
		u, err := q.store.Get(ctx, p.ID, period)
		if err != nil {
			return q.storeFailed(ctx, err)
		}
		if spent(u, limits, 0) {
			return exceeded(period, u, limits)
		}
		return nil
	}
	if t := q.prepaid(ctx, p); t != nil {
		if a.Values == nil {
			a.Values = map[any]any{}
		}
		a.Values[ticketKey{}] = t
		return nil
	}
	u, err := q.store.Add(ctx, p.ID, period, Usage{Executions: 1})
	if err != nil {
		return q.storeFailed(ctx, err)
	}
	if spent(u, limits, 1) {
		q.add(ctx, p.ID, period, Usage{Executions: -1})
		u.Executions--
		return exceeded(period, u, limits)
	}
	if a.Values == nil {
		a.Values = map[any]any{}
	}
	a.Values[ticketKey{}] = &ticket{key: p.ID, period: period}
	return nil
}

// spent reports whether u is past limits; reserving says whether u
// already counts the execution being reserved.
func spent(u Usage, l Limits, reserving int64) bool {
	return (l.Executions > 0 && u.Executions-reserving >= l.Executions) ||
		(l.CPUSeconds > 0 && u.CPUSeconds >= l.CPUSeconds) ||
		(l.MemoryMBSeconds > 0 && u.MemoryMBSeconds >= l.MemoryMBSeconds)
}

func exceeded(period Period, u Usage, l Limits) error {
	wait := time.Until(period.End)
	if wait < time.Second {
		wait = time.Second
	}
	return &computemw.Error{
		Code:       computemw.CodeQuotaExceeded,
		Message:    "Quota exceeded",
		RetryAfter: wait,
		Details: map[string]any{
			"period":    period.Name,
			"periodEnd": period.End,
			"usage":     u,
			"limits":    limitsBody(l),
		},
	}
}

func (q *Quota) storeFailed(ctx context.Context, err error) error {
	if q.failOpen {
		q.log.WarnContext(ctx, "computemw: quota store failed; admitting (fail open)", "requestId", computemw.RequestIDFrom(ctx), "error", err)
		return nil
	}
	return &computemw.Error{Code: computemw.CodeUnavailable, Message: "quota service unavailable", RetryAfter: time.Second,
		Err: fmt.Errorf("quota store: %w", err)}
}

// add records delta, logging a failure: the execution it accounts for has
// already happened (or been refused), so there is no one to tell. It is
// not cut short by the request going away.
func (q *Quota) add(ctx context.Context, key string, period Period, delta Usage) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), quotaWriteTimeout)
	defer cancel()
	if _, err := q.store.Add(wctx, key, period, delta); err != nil {
		q.log.ErrorContext(ctx, "computemw: quota: recording usage failed", "requestId", computemw.RequestIDFrom(ctx), "principal", key, "error", err)
	}
}

// ExecutionFinished is the quota's [computemw.Hooks].ExecutionFinished: it
// records what the execution measured, or gives its reservation back if it
// could not run.
func (q *Quota) ExecutionFinished(ctx context.Context, a *computemw.Action, res *computemw.Result, _ error, _ time.Duration) {
	t, _ := a.Values[ticketKey{}].(*ticket)
	if t == nil || t.settled {
		return
	}
	t.settled = true
	if res == nil {
		q.add(ctx, t.key, t.period, Usage{Executions: -1})
		return
	}
	delta := Usage{
		CPUSeconds:      res.CPUTime.Seconds(),
		MemoryMBSeconds: float64(res.PeakMemory) / (1 << 20) * res.ExecutionTime.Seconds(),
	}
	if delta.CPUSeconds > 0 || delta.MemoryMBSeconds > 0 {
		q.add(ctx, t.key, t.period, delta)
	}
}

// RequestRejected is the quota's [computemw.Hooks].RequestRejected: an
// action refused after its reservation (by a later policy or the sandbox
// cap) gives it back.
func (q *Quota) RequestRejected(ctx context.Context, _ computemw.Op, a *computemw.Action, _ error) {
	if a == nil {
		return
	}
	t, _ := a.Values[ticketKey{}].(*ticket)
	if t == nil || t.settled {
		return
	}
	t.settled = true
	q.add(ctx, t.key, t.period, Usage{Executions: -1})
}

// CheckUsage implements [computemw.UsageMeter]: a terminal goes on only
// while its caller's usage, with what the terminal has used so far, is
// within the plan's CPU and memory quotas.
func (q *Quota) CheckUsage(ctx context.Context, a *computemw.Action, sofar *computemw.Result) error {
	t, _ := a.Values[ticketKey{}].(*ticket)
	if t == nil || sofar == nil {
		return nil
	}
	p, _ := computemw.PrincipalFrom(ctx)
	limits := q.Limits(p.Plan)
	u, err := q.store.Get(ctx, t.key, t.period)
	if err != nil {
		return nil // the store's failure is not the terminal's: it is charged at the end
	}
	u.CPUSeconds += sofar.CPUTime.Seconds()
	u.MemoryMBSeconds += float64(sofar.PeakMemory) / (1 << 20) * sofar.ExecutionTime.Seconds()
	if spent(u, limits, 1) {
		return exceeded(t.period, u, limits)
	}
	return nil
}

// MeterUsage implements [computemw.UsageMeter]: it charges what a sandbox
// used that no execution reported (its background processes) to the
// principal who created it, and refuses with QUOTA_EXCEEDED — which stops
// the sandbox's processes and terminals — once that principal's CPU or
// memory quota is spent, counting what its running executions have used
// so far. Sandboxes of anonymous callers are not charged.
func (q *Quota) MeterUsage(ctx context.Context, _ *computemw.Action, m *computemw.Metered) error {
	p, ok := computemw.PrincipalFrom(ctx)
	if !ok || p.ID == "" {
		return nil
	}
	limits := q.Limits(p.Plan)
	period := q.periodAt(time.Now())
	delta := Usage{
		CPUSeconds:      m.CPUTime.Seconds(),
		MemoryMBSeconds: float64(m.PeakMemory)/(1<<20)*m.MemoryTime.Seconds() + q.idleMB*m.IdleTime.Seconds(),
	}
	wctx, cancel := context.WithTimeout(ctx, quotaWriteTimeout)
	defer cancel()
	var (
		u   Usage
		err error
	)
	if delta.CPUSeconds > 0 || delta.MemoryMBSeconds > 0 {
		u, err = q.store.Add(wctx, p.ID, period, delta)
	} else {
		u, err = q.store.Get(wctx, p.ID, period)
	}
	if err != nil {
		// The work is charged at the next reading, or by its executions.
		q.log.ErrorContext(ctx, "computemw: quota: recording a sandbox's usage failed", "principal", p.ID, "sandbox", m.SandboxID, "error", err)
		return nil
	}
	if m.Final {
		return nil
	}
	u.CPUSeconds += m.Pending.Seconds()
	if (limits.CPUSeconds > 0 && u.CPUSeconds >= limits.CPUSeconds) ||
		(limits.MemoryMBSeconds > 0 && u.MemoryMBSeconds >= limits.MemoryMBSeconds) {
		return exceeded(period, u, limits)
	}
	return nil
}

// ReportUsage implements httpapi.UsageReporter for GET /usage.
func (q *Quota) ReportUsage(ctx context.Context, p computemw.Principal) (any, error) {
	u, period, err := q.Usage(ctx, p)
	if err != nil {
		return nil, &computemw.Error{Code: computemw.CodeUnavailable, Message: "quota service unavailable", RetryAfter: time.Second, Err: err}
	}
	plan := p.Plan
	if _, ok := q.plans[plan]; !ok {
		plan = q.defaultPlan
	}
	return &Report{
		Principal:   p.ID,
		Plan:        plan,
		Period:      period.Name,
		PeriodStart: period.Start,
		PeriodEnd:   period.End,
		Usage:       u,
		Limits:      limitsBody(q.plans[plan]),
	}, nil
}

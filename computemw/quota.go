package computemw

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"sync/atomic"
	"time"
)

// QuotaLimits cap one principal's usage in a period; a zero field is
// unlimited.
type QuotaLimits struct {
	Executions      int64
	CPUSeconds      float64
	MemoryMBSeconds float64
}

// DefaultQuotaPlans returns the default quota limits by plan, per period:
// free 100 executions, 60 CPU seconds and 60,000 MB-seconds; pro 10,000
// executions, 3,600 CPU seconds and 3,600,000 MB-seconds; enterprise
// unlimited.
func DefaultQuotaPlans() map[string]QuotaLimits {
	return map[string]QuotaLimits{
		"free":       {Executions: 100, CPUSeconds: 60, MemoryMBSeconds: 60_000},
		"pro":        {Executions: 10_000, CPUSeconds: 3_600, MemoryMBSeconds: 3_600_000},
		"enterprise": {},
	}
}

// QuotaConfig configures [NewQuota].
type QuotaConfig struct {
	// Store keeps usage; nil means [NewMemoryQuotaStore].
	Store QuotaStore
	// Plans are the limits by [Principal].Plan; nil means
	// [DefaultQuotaPlans].
	Plans map[string]QuotaLimits
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
}

// quotaWriteTimeout bounds recording usage after an execution.
const quotaWriteTimeout = 5 * time.Second

// Quota enforces usage quotas per principal and period. It is both a
// [Policy] and [Hooks]: register it in Config.Policies (after the
// [Authenticator]) AND in Config.Hooks.
//
// As a policy, its Authorize reserves one execution for /execute, /exec
// and the sandbox middleware by atomically adding it to the store, and
// refuses with 429 QUOTA_EXCEEDED (Retry-After: the end of the period),
// rolling the reservation back, when that goes over the limit or when the
// CPU or memory quota is spent — before any sandbox is created. So a quota
// of N admits exactly N, however many instances share the store. Other
// operations that create a sandbox are refused once any quota is spent.
//
// As hooks, it records the CPU seconds and memory-MB-seconds each
// execution measured (Result.CPUTime, Result.PeakMemory ×
// Result.ExecutionTime), also for executions stopped by a timeout or a
// resource limit. A reservation is rolled back when the execution could
// not run at all, or when it was refused after the reservation (by a later
// policy or the sandbox cap); it stays counted when the provider failed to
// create the sandbox.
type Quota struct {
	NopHooks
	store       QuotaStore
	plans       map[string]QuotaLimits
	defaultPlan string
	period      PeriodFunc
	failOpen    bool
	log         *slog.Logger
	current     atomic.Pointer[Period] // the period of the last lookup
}

// NewQuota builds a Quota from cfg.
func NewQuota(cfg QuotaConfig) (*Quota, error) {
	q := &Quota{store: cfg.Store, plans: cfg.Plans, defaultPlan: cfg.DefaultPlan, period: cfg.Period, failOpen: cfg.FailOpen, log: cfg.Logger}
	if q.store == nil {
		q.store = NewMemoryQuotaStore()
	}
	if q.plans == nil {
		q.plans = DefaultQuotaPlans()
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
	return q, nil
}

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
func (q *Quota) Store() QuotaStore { return q.store }

// Limits returns the limits of plan (the default plan's when plan is
// unknown).
func (q *Quota) Limits(plan string) QuotaLimits {
	if l, ok := q.plans[plan]; ok {
		return l
	}
	return q.plans[q.defaultPlan]
}

// Usage returns p's usage in the current period.
func (q *Quota) Usage(ctx context.Context, p Principal) (QuotaUsage, Period, error) {
	period := q.periodAt(time.Now())
	u, err := q.store.Get(ctx, p.ID, period)
	if err != nil {
		return QuotaUsage{}, period, fmt.Errorf("computemw: quota: %w", err)
	}
	return u, period, nil
}

var quotaTicketKey = &contextKey{"quota-ticket"}

// quotaTicket follows one request's reservation from Authorize to the
// end of its execution, or to its refusal. Hooks and policies of a
// request run on its goroutine, one after the other.
type quotaTicket struct {
	reserved bool
	settled  bool
	key      string
	period   Period
}

// Admit implements [Policy]: it gives operations that may execute a
// ticket for their reservation.
func (q *Quota) Admit(ctx context.Context, op Op, _ *Request) (context.Context, error) {
	if !countsExecution(op) {
		return ctx, nil
	}
	return context.WithValue(ctx, quotaTicketKey, &quotaTicket{}), nil
}

func countsExecution(op Op) bool { return op == OpExecute || op == OpExec || op == OpMiddleware }

// Authorize implements [Policy]: it reserves an execution, or checks that
// no quota is spent, before a sandbox is created.
func (q *Quota) Authorize(ctx context.Context, a *Action) error {
	counts := countsExecution(a.Op)
	if !counts && !createsSandbox(ctx, a) {
		return nil
	}
	p, ok := PrincipalFrom(ctx)
	if !ok || p.ID == "" {
		return &Error{Code: CodeUnauthorized, Message: "authentication required"}
	}
	limits := q.Limits(p.Plan)
	period := q.periodAt(time.Now())
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
	u, err := q.store.Add(ctx, p.ID, period, QuotaUsage{Executions: 1})
	if err != nil {
		return q.storeFailed(ctx, err)
	}
	if spent(u, limits, 1) {
		q.add(ctx, p.ID, period, QuotaUsage{Executions: -1})
		u.Executions--
		return exceeded(period, u, limits)
	}
	if t, ok := ctx.Value(quotaTicketKey).(*quotaTicket); ok && !t.reserved {
		*t = quotaTicket{reserved: true, key: p.ID, period: period}
	}
	return nil
}

// spent reports whether u is past limits; reserving says whether u
// already counts the execution being reserved.
func spent(u QuotaUsage, l QuotaLimits, reserving int64) bool {
	return (l.Executions > 0 && u.Executions-reserving >= l.Executions) ||
		(l.CPUSeconds > 0 && u.CPUSeconds >= l.CPUSeconds) ||
		(l.MemoryMBSeconds > 0 && u.MemoryMBSeconds >= l.MemoryMBSeconds)
}

func exceeded(period Period, u QuotaUsage, l QuotaLimits) error {
	wait := time.Until(period.End)
	if wait < time.Second {
		wait = time.Second
	}
	return &Error{
		Code:       CodeQuotaExceeded,
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
		q.log.WarnContext(ctx, "computemw: quota store failed; admitting (fail open)", "requestId", RequestIDFrom(ctx), "error", err)
		return nil
	}
	return &Error{Code: CodeUnavailable, Message: "quota service unavailable", RetryAfter: time.Second,
		Err: fmt.Errorf("quota store: %w", err)}
}

// add records delta, logging a failure: the execution it accounts for has
// already happened (or been refused), so there is no one to tell. It is
// not cut short by the request going away.
func (q *Quota) add(ctx context.Context, key string, period Period, delta QuotaUsage) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), quotaWriteTimeout)
	defer cancel()
	if _, err := q.store.Add(wctx, key, period, delta); err != nil {
		q.log.ErrorContext(ctx, "computemw: quota: recording usage failed", "requestId", RequestIDFrom(ctx),
			"principal", key, "error", err)
	}
}

// ExecutionFinished implements [Hooks]: it records what the execution
// measured, or rolls its reservation back if it could not run.
func (q *Quota) ExecutionFinished(ctx context.Context, _ *Action, res *Result, _ error, _ time.Duration) {
	t, _ := ctx.Value(quotaTicketKey).(*quotaTicket)
	reserved := t != nil && t.reserved && !t.settled
	if t != nil {
		t.settled = true
	}
	var (
		key    string
		period Period
	)
	switch p, ok := PrincipalFrom(ctx); {
	case t != nil && t.reserved:
		key, period = t.key, t.period
	case ok && p.ID != "":
		key, period = p.ID, q.periodAt(time.Now())
	default:
		return
	}
	if res == nil {
		if reserved {
			q.add(ctx, key, period, QuotaUsage{Executions: -1})
		}
		return
	}
	delta := QuotaUsage{
		CPUSeconds:      res.CPUTime.Seconds(),
		MemoryMBSeconds: float64(res.PeakMemory) / (1 << 20) * res.ExecutionTime.Seconds(),
	}
	if delta.CPUSeconds > 0 || delta.MemoryMBSeconds > 0 {
		q.add(ctx, key, period, delta)
	}
}

// RequestRejected implements [Hooks]: a request refused after its
// reservation (by a later policy or the sandbox cap) gives it back.
func (q *Quota) RequestRejected(ctx context.Context, _ Op, _ error) {
	t, _ := ctx.Value(quotaTicketKey).(*quotaTicket)
	if t == nil || !t.reserved || t.settled {
		return
	}
	t.settled = true
	q.add(ctx, t.key, t.period, QuotaUsage{Executions: -1})
}

// ReportUsage implements [UsageReporter] for GET /usage.
func (q *Quota) ReportUsage(ctx context.Context, p Principal) (*UsageReport, error) {
	u, period, err := q.Usage(ctx, p)
	if err != nil {
		return nil, &Error{Code: CodeUnavailable, Message: "quota service unavailable", RetryAfter: time.Second, Err: err}
	}
	plan := p.Plan
	if _, ok := q.plans[plan]; !ok {
		plan = q.defaultPlan
	}
	return &UsageReport{
		Principal:   p.ID,
		Plan:        plan,
		Period:      period.Name,
		PeriodStart: period.Start,
		PeriodEnd:   period.End,
		Usage:       u,
		Limits:      limitsBody(q.plans[plan]),
	}, nil
}

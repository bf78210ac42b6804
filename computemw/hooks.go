package computemw

import (
	"context"
	"time"

	"github.com/computemw/kit/computemw/internal/outcome"
)

// Hooks observe what the kit does: the place for metrics (the prommetrics
// package), billing or audit logs (traces, whose spans must reach the
// provider, have a [Tracer] of their own). Every entry
// point reports through them — routes, middleware sandboxes, Kit.Create,
// Kit.Execute, event streams, WebSocket messages. Set the fields of the
// events to observe; a nil field is not called. The functions are called
// synchronously on the request's goroutine, so they must be cheap and must
// not block; hand slow work to a queue.
//
// A policy or a [MetricsExporter] that observes too has a method
// Hooks() *Hooks, which returns the same Hooks on every call; the kit
// registers those along with Config.Hooks.
type Hooks struct {
	// SandboxCreated follows a successful create, with how long it took.
	SandboxCreated func(ctx context.Context, sb Sandbox, took time.Duration)
	// SandboxDestroyed follows a destroy (err is the destroy's error).
	SandboxDestroyed func(ctx context.Context, sb Sandbox, err error)
	// ExecutionStarted follows the authorization of an execution (an
	// execute, an exec or a terminal) by every policy.
	ExecutionStarted func(ctx context.Context, a *Action)
	// ExecutionFinished follows every started execution, exactly once: res
	// is nil when it could not run (unknown language, failed to start, no
	// sandbox); err is its error (timeouts and resource errors carry a
	// partial res). A program's non-zero exit is a res with that ExitCode
	// and a nil err. For a terminal, res holds its exit code, duration and
	// the CPU time and peak memory its sandbox measured meanwhile.
	ExecutionFinished func(ctx context.Context, a *Action, res *Result, err error, took time.Duration)
	// RequestRejected follows a refusal before anything ran: by a policy
	// (auth, rate limit, quota), by the sandbox cap, or an authorized
	// action that could not start before it became an execution (a
	// sandbox that could not be created). a is nil when the refusal came
	// before an action existed (in Admit); otherwise it is the action
	// refused, so that what a policy reserved for it can be given back.
	RequestRejected func(ctx context.Context, op Op, a *Action, err error)
	// ConnectionOpened and ConnectionClosed bracket a streaming client (an
	// event stream or a WebSocket connection).
	ConnectionOpened func(ctx context.Context, op Op)
	ConnectionClosed func(ctx context.Context, op Op)
}

// hooksProvider is a policy or metrics exporter that observes the kit too.
type hooksProvider interface {
	Hooks() *Hooks
}

// observer is how the kit calls its hooks: the execution log, and each
// registered [Hooks].
type observer interface {
	SandboxCreated(ctx context.Context, sb Sandbox, took time.Duration)
	SandboxDestroyed(ctx context.Context, sb Sandbox, err error)
	ExecutionStarted(ctx context.Context, a *Action)
	ExecutionFinished(ctx context.Context, a *Action, res *Result, err error, took time.Duration)
	RequestRejected(ctx context.Context, op Op, a *Action, err error)
	ConnectionOpened(ctx context.Context, op Op)
	ConnectionClosed(ctx context.Context, op Op)
}

// hookFuncs calls the fields of a Hooks that are set.
type hookFuncs struct{ h *Hooks }

func (f hookFuncs) SandboxCreated(ctx context.Context, sb Sandbox, took time.Duration) {
	if f.h.SandboxCreated != nil {
		f.h.SandboxCreated(ctx, sb, took)
	}
}

func (f hookFuncs) SandboxDestroyed(ctx context.Context, sb Sandbox, err error) {
	if f.h.SandboxDestroyed != nil {
		f.h.SandboxDestroyed(ctx, sb, err)
	}
}

func (f hookFuncs) ExecutionStarted(ctx context.Context, a *Action) {
	if f.h.ExecutionStarted != nil {
		f.h.ExecutionStarted(ctx, a)
	}
}

func (f hookFuncs) ExecutionFinished(ctx context.Context, a *Action, res *Result, err error, took time.Duration) {
	if f.h.ExecutionFinished != nil {
		f.h.ExecutionFinished(ctx, a, res, err, took)
	}
}

func (f hookFuncs) RequestRejected(ctx context.Context, op Op, a *Action, err error) {
	if f.h.RequestRejected != nil {
		f.h.RequestRejected(ctx, op, a, err)
	}
}

func (f hookFuncs) ConnectionOpened(ctx context.Context, op Op) {
	if f.h.ConnectionOpened != nil {
		f.h.ConnectionOpened(ctx, op)
	}
}

func (f hookFuncs) ConnectionClosed(ctx context.Context, op Op) {
	if f.h.ConnectionClosed != nil {
		f.h.ConnectionClosed(ctx, op)
	}
}

// nopObserver implements every method of [observer] as a no-op.
type nopObserver struct{}

func (nopObserver) SandboxCreated(context.Context, Sandbox, time.Duration)                    {}
func (nopObserver) SandboxDestroyed(context.Context, Sandbox, error)                          {}
func (nopObserver) ExecutionStarted(context.Context, *Action)                                 {}
func (nopObserver) ExecutionFinished(context.Context, *Action, *Result, error, time.Duration) {}
func (nopObserver) RequestRejected(context.Context, Op, *Action, error)                       {}
func (nopObserver) ConnectionOpened(context.Context, Op)                                      {}
func (nopObserver) ConnectionClosed(context.Context, Op)                                      {}

func (k *Kit) rejected(ctx context.Context, op Op, a *Action, err error) {
	for _, h := range k.hooks {
		h.RequestRejected(ctx, op, a, err)
	}
}

// trackConnection reports a streaming client to the hooks until the
// returned function is called.
func (k *Kit) trackConnection(ctx context.Context, op Op) (done func()) {
	for _, h := range k.hooks {
		h.ConnectionOpened(ctx, op)
	}
	return func() {
		for _, h := range k.hooks {
			h.ConnectionClosed(ctx, op)
		}
	}
}

// executionStatus classifies an execution's outcome, as reported to
// [Hooks].ExecutionFinished, for the execution log.
func executionStatus(res *Result, err error) string {
	if err != nil {
		return outcome.Of(true, 0, string(AsError(err).Code))
	}
	exit := 0
	if res != nil {
		exit = res.ExitCode
	}
	return outcome.Of(false, exit, "")
}

// Execution statuses, as the execution log and the metrics
// (compute_executions_total's status label) name an execution's outcome.
const (
	StatusSuccess   = "success"   // ran and exited 0
	StatusFailure   = "failure"   // ran and exited non-zero
	StatusTimeout   = "timeout"   // stopped by its time limit
	StatusResource  = "resource"  // stopped by a memory, process, disk or output limit
	StatusExecution = "execution" // could not run: unknown language, failed to start
	StatusError     = "error"     // anything else
)

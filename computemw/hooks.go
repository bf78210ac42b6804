package computemw

import (
	"context"
	"time"
)

// Hooks observe what the kit does: the place for metrics (the prommetrics
// package), tracing (OpenTelemetry), billing or audit logs. Every entry
// point reports through them — routes, middleware sandboxes, Kit.Create,
// Kit.Execute, event streams, WebSocket messages. Methods are called
// synchronously on the request's goroutine, so they must be cheap and must
// not block; hand slow work to a queue. Embed [NopHooks] to implement only
// some.
type Hooks interface {
	// SandboxCreated follows a successful create, with how long it took.
	SandboxCreated(ctx context.Context, sb Sandbox, took time.Duration)
	// SandboxDestroyed follows a destroy (err is the destroy's error).
	SandboxDestroyed(ctx context.Context, sb Sandbox, err error)
	// ExecutionStarted follows the authorization of an execution (an
	// execute, an exec or a terminal) by every policy.
	ExecutionStarted(ctx context.Context, a *Action)
	// ExecutionFinished follows every started execution, exactly once: res
	// is nil when it could not run (unknown language, failed to start, no
	// sandbox); err is its error (timeouts and resource errors carry a
	// partial res). A program's non-zero exit is a res with that ExitCode
	// and a nil err. For a terminal, res holds its exit code, duration and
	// the CPU time and peak memory its sandbox measured meanwhile.
	ExecutionFinished(ctx context.Context, a *Action, res *Result, err error, took time.Duration)
	// RequestRejected follows a refusal before anything ran: by a policy
	// (auth, rate limit, quota), by the sandbox cap, or an authorized
	// action that could not start before it became an execution (a
	// sandbox that could not be created). a is nil when the refusal came
	// before an action existed (in Admit); otherwise it is the action
	// refused, so that what a policy reserved for it can be given back.
	RequestRejected(ctx context.Context, op Op, a *Action, err error)
	// ConnectionOpened and ConnectionClosed bracket a streaming client (an
	// event stream or a WebSocket connection).
	ConnectionOpened(ctx context.Context, op Op)
	ConnectionClosed(ctx context.Context, op Op)
}

// Binder is implemented by hooks and policies that must know the kit they
// serve before its first request, such as metrics that create a series for
// every provider and language at start. [New] calls Bind once, after the
// providers are registered.
type Binder interface {
	Bind(k *Kit) error
}

// NopHooks implements every method of [Hooks] as a no-op.
type NopHooks struct{}

// SandboxCreated implements Hooks.
func (NopHooks) SandboxCreated(context.Context, Sandbox, time.Duration) {}

// SandboxDestroyed implements Hooks.
func (NopHooks) SandboxDestroyed(context.Context, Sandbox, error) {}

// ExecutionStarted implements Hooks.
func (NopHooks) ExecutionStarted(context.Context, *Action) {}

// ExecutionFinished implements Hooks.
func (NopHooks) ExecutionFinished(context.Context, *Action, *Result, error, time.Duration) {}

// RequestRejected implements Hooks.
func (NopHooks) RequestRejected(context.Context, Op, *Action, error) {}

// ConnectionOpened implements Hooks.
func (NopHooks) ConnectionOpened(context.Context, Op) {}

// ConnectionClosed implements Hooks.
func (NopHooks) ConnectionClosed(context.Context, Op) {}

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

// Execution statuses, as the execution log and metrics label them.
const (
	StatusSuccess   = "success"   // ran and exited 0
	StatusFailure   = "failure"   // ran and exited non-zero
	StatusTimeout   = "timeout"   // stopped by its time limit
	StatusResource  = "resource"  // stopped by a memory, process, disk or output limit
	StatusExecution = "execution" // could not run: unknown language, failed to start
	StatusError     = "error"     // anything else
)

// ExecutionStatuses lists every status [ExecutionStatus] returns.
func ExecutionStatuses() []string {
	return []string{StatusSuccess, StatusFailure, StatusTimeout, StatusResource, StatusExecution, StatusError}
}

// ExecutionStatus classifies an execution's outcome, as reported to
// [Hooks].ExecutionFinished.
func ExecutionStatus(res *Result, err error) string {
	if err == nil {
		if res != nil && res.ExitCode != 0 {
			return StatusFailure
		}
		return StatusSuccess
	}
	switch AsError(err).Code {
	case CodeTimeout:
		return StatusTimeout
	case CodeResource:
		return StatusResource
	case CodeExecution:
		return StatusExecution
	}
	return StatusError
}

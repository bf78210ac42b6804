package computemw

import (
	"context"
	"time"
)

// Hooks observe what the kit does: the place to attach tracing
// (OpenTelemetry), billing or audit logs. Methods are called synchronously
// on the request's goroutine, so they must be cheap and must not block;
// hand slow work to a queue. Embed [NopHooks] to implement only some.
type Hooks interface {
	// SandboxCreated follows a successful create, with how long it took.
	SandboxCreated(ctx context.Context, sb Sandbox, took time.Duration)
	// SandboxDestroyed follows a destroy (err is the destroy's error).
	SandboxDestroyed(ctx context.Context, sb Sandbox, err error)
	// ExecutionStarted precedes an execution authorized by every policy.
	ExecutionStarted(ctx context.Context, a *Action)
	// ExecutionFinished follows an execution: res is nil when it could not
	// run; err is its error (timeouts and resource errors carry a partial
	// res). A program's non-zero exit is a res with that ExitCode and a nil
	// err.
	ExecutionFinished(ctx context.Context, a *Action, res *Result, err error, took time.Duration)
	// RequestRejected follows a refusal before any execution: a policy's
	// (auth, rate limit, quota) or the capacity cap's.
	RequestRejected(ctx context.Context, op Op, err error)
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
func (NopHooks) RequestRejected(context.Context, Op, error) {}

func (k *Kit) rejected(ctx context.Context, op Op, err error) {
	for _, h := range k.cfg.Hooks {
		h.RequestRejected(ctx, op, err)
	}
}

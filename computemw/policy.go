package computemw

import (
	"context"
	"net/http"
	"time"
)

// Op names an operation of the kit, for policies, hooks, logs and metrics.
type Op string

// The kit's operations.
const (
	OpExecute    Op = "execute"    // POST /execute
	OpExec       Op = "exec"       // POST /exec
	OpFiles      Op = "files"      // POST /files
	OpHealth     Op = "health"     // GET /health
	OpReady      Op = "ready"      // GET /ready
	OpMetrics    Op = "metrics"    // GET /metrics
	OpUsage      Op = "usage"      // GET /usage: the caller's own quota usage
	OpSessions   Op = "sessions"   // /sandboxes: create, list, get, delete, keepalive
	OpWebSocket  Op = "websocket"  // GET /ws
	OpMiddleware Op = "middleware" // a user handler behind the sandbox middleware
)

// Action is what a request is about to do, decided on by policies before any
// sandbox is created. Policies may lower Timeout and the Resources of
// Create, or refuse the action.
type Action struct {
	Op Op
	// Provider is the provider the action runs on.
	Provider string
	// Language is the language of an execute, else "".
	Language string
	// Timeout is the execution's wall-clock limit.
	Timeout time.Duration
	// Create configures the sandbox the action will create (when SandboxID
	// is empty).
	Create CreateOptions
	// SandboxID names an existing sandbox the action targets, or "".
	SandboxID string
}

// Policy guards the kit's operations: authentication, authorization, rate
// limits, quotas. Every adapter gets them, since they run in the core.
type Policy interface {
	// Admit runs first, on the request's headers and address, before the
	// body is read. It returns the context to continue with (for example
	// carrying the caller's Principal), or an error that is rendered with
	// its status and code (401, 403, 429, 503 ...).
	Admit(ctx context.Context, op Op, r *Request) (context.Context, error)
	// Authorize runs after the request is validated and before any sandbox
	// is created or used.
	Authorize(ctx context.Context, a *Action) error
}

// admit runs every policy's Admit in order.
func (k *Kit) admit(ctx context.Context, op Op, r *Request) (context.Context, error) {
	for _, p := range k.cfg.Policies {
		var err error
		if ctx, err = p.Admit(ctx, op, r); err != nil {
			k.rejected(ctx, op, err)
			return ctx, err
		}
	}
	return ctx, nil
}

// authorize runs every policy's Authorize in order.
func (k *Kit) authorize(ctx context.Context, a *Action) error {
	for _, p := range k.cfg.Policies {
		if err := p.Authorize(ctx, a); err != nil {
			k.rejected(ctx, a.Op, err)
			return err
		}
	}
	return nil
}

var responseHeaderKey = &contextKey{"response-header"}

// withResponseHeader returns ctx carrying a header set that policies fill
// and the kit copies onto the response, errors included.
func withResponseHeader(ctx context.Context) (context.Context, http.Header) {
	if h, ok := ctx.Value(responseHeaderKey).(http.Header); ok {
		return ctx, h
	}
	h := make(http.Header, 4)
	return context.WithValue(ctx, responseHeaderKey, h), h
}

// ResponseHeader returns the headers the kit will add to the request's
// response (X-Request-ID, and what policies set, such as X-RateLimit-*).
// Policies add to it; adapters' middleware copy it onto the response. It is
// nil outside a request begun with [BeginRequest].
func ResponseHeader(ctx context.Context) http.Header {
	h, _ := ctx.Value(responseHeaderKey).(http.Header)
	return h
}

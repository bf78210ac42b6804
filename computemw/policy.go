package computemw

import (
	"context"
	"net/http"
	"time"
)

// Op names an operation of the kit, for policies, hooks, logs and metrics.
type Op string

// The kit's operations. Executions — what quotas count and hooks see
// start and finish — are OpExecute, OpExec and OpTerminal.
const (
	OpExecute    Op = "execute"    // run code in a language: POST /execute, Sandbox.RunCode
	OpExec       Op = "exec"       // run a command line: POST /exec, Sandbox.Exec, event streams
	OpFiles      Op = "files"      // a file operation: POST /files, the Sandbox file methods
	OpTerminal   Op = "terminal"   // open a terminal on a pseudo-terminal
	OpCreate     Op = "create"     // create a sandbox through Kit.Create or Kit.Acquire
	OpHealth     Op = "health"     // GET /health
	OpReady      Op = "ready"      // GET /ready
	OpMetrics    Op = "metrics"    // GET /metrics
	OpUsage      Op = "usage"      // GET /usage: the caller's own quota usage
	OpSessions   Op = "sessions"   // /sandboxes: create, list, get, delete, keepalive
	OpWebSocket  Op = "websocket"  // GET /ws, and a WebSocket's create-sandbox message
	OpMiddleware Op = "middleware" // a user handler behind the sandbox middleware
)

// isExecution reports whether op runs a program: an execute, an exec or
// a terminal.
func isExecution(op Op) bool { return op == OpExecute || op == OpExec || op == OpTerminal }

// Action is what a caller is about to do, decided on by policies before it
// happens: before any sandbox is created for it, and before anything runs.
// Policies may lower Timeout and the Resources of Create, or refuse the
// action. The kit builds one Action per sandbox creation, per execution,
// per terminal and per file operation; the same *Action then reaches the
// hooks (ExecutionStarted, ExecutionFinished, or RequestRejected), so a
// policy can keep per-action state in its Values.
type Action struct {
	Op Op
	// Provider is the provider the action runs on.
	Provider string
	// Language is the language of an execute, else "".
	Language string
	// Timeout is the execution's wall-clock limit (for a terminal, its
	// lifetime).
	Timeout time.Duration
	// Create configures the sandbox the action creates, when
	// CreatesSandbox is true.
	Create CreateOptions
	// CreatesSandbox is set by the kit: the action creates a new sandbox
	// (rather than using an existing session, connection or request
	// sandbox).
	CreatesSandbox bool
	// SandboxID names the existing sandbox the action targets, or "".
	SandboxID string
	// MaxSandboxes, MaxSessions and MaxSessionLifetime, when a policy
	// sets them, lower the caller's caps for a creation below the
	// Config's (MaxSandboxesPerPrincipal, MaxSessionsPerPrincipal,
	// MaxSessionLifetime): a quota plan or a role gives each caller its
	// share. Zero keeps the Config's.
	MaxSandboxes       int
	MaxSessions        int
	MaxSessionLifetime time.Duration
	// Values keeps policies' and hooks' state for the action, under keys
	// of their own unexported types (as with context keys); nil until one
	// sets a value. An action is handled on one goroutine at a time, from
	// authorization to its last hook.
	Values map[any]any

	// plan lists the providers a creation tries in turn (a strategy's
	// choice), Provider being the first; nil when there is one.
	plan []string
}

// Policy guards the kit's operations: authentication, authorization, rate
// limits, quotas. Every entry point runs them — the prebuilt routes, the
// middleware's sandbox, [Kit.Create] and [Kit.Acquire], [Kit.Execute],
// event streams, WebSocket messages — since they run in the core. Policies
// use only this package's exported API, so an application can write its
// own; the kit's are in the auth, rbac, ratelimit and quota packages.
//
// A policy that also observes the kit has a method Hooks() *[Hooks]: those
// hooks are registered when it is listed in Config.Policies (once, even if
// they are also in Config.Hooks).
type Policy interface {
	// Admit runs first, once per request (and once per WebSocket message
	// that creates or runs something), on the request's headers and
	// address, before the body is read. r.Header is never nil: WebSocket
	// messages carry the upgrade request's. It returns the context to
	// continue with (for example carrying the caller's Principal), or an
	// error that is rendered with its status and code (401, 403, 429,
	// 503 ...).
	Admit(ctx context.Context, op Op, r *Request) (context.Context, error)
	// Authorize runs for each [Action], after the request is validated and
	// before any sandbox is created or used.
	Authorize(ctx context.Context, a *Action) error
}

var admittedKey = &contextKey{"admitted"}

// admitted reports whether ctx went through [Kit.Admit].
func admitted(ctx context.Context) bool { return ctx.Value(admittedKey) != nil }

// Admit is the governed entry of a caller: it gives the request an ID,
// records its address and operation, and runs every policy's Admit
// (authentication, rate limits ...). The prebuilt routes, the middleware
// and the WebSocket endpoint call it; a custom transport (a GraphQL
// resolver, a Socket.IO handler, a job queue) calls it once per request
// with the caller's headers and address, then uses the returned context
// with [Kit.Acquire], [Kit.Create] or [Kit.Execute]. A refused caller gets
// the policy's error (401, 429 ...), which [httpapi.API.ErrorResponse] renders.
// r may be nil; its Header may be nil (an empty header is used). For
// [OpWebSocket], the page's Origin must also be one the kit allows
// (Config.AllowedOrigins, else the pages of Config.AllowedHosts): a
// browser page of another origin gets 403 FORBIDDEN.
func (k *Kit) Admit(ctx context.Context, op Op, r *Request) (_ context.Context, err error) {
	if r == nil {
		r = &Request{}
	}
	if r.Header == nil {
		c := *r
		c.Header = http.Header{}
		r = &c
	}
	ctx, _ = BeginRequest(ctx, r.Header)
	ctx = k.continueTrace(ctx, r.Header)
	if _, tr := k.trace(ctx, TraceStep{Name: "admission", Op: op}); tr != nil {
		defer func() { tr.admitted(ctx, err) }()
	}
	ctx = withOp(ctx, op)
	if r.RemoteAddr != "" {
		ctx = withRemoteAddr(ctx, r.RemoteAddr)
	}
	if r.Host != "" && !k.hostAllowed(r.Host) {
		err := Errorf(CodeForbidden, "host %q is not served here", truncate(r.Host, 64))
		k.rejected(ctx, op, nil, err)
		return ctx, err
	}
	for _, p := range k.cfg.Policies {
		var err error
		if ctx, err = p.Admit(ctx, op, r); err != nil {
			k.rejected(ctx, op, nil, err)
			return ctx, err
		}
	}
	if op == OpWebSocket {
		if origin := r.Header.Get("Origin"); !k.originAllowed(origin) {
			err := Errorf(CodeForbidden, "origin %q may not open a WebSocket here", truncate(origin, 128))
			k.rejected(ctx, op, nil, err)
			return ctx, err
		}
	}
	ctx = context.WithValue(ctx, requestKey, r)
	return context.WithValue(ctx, admittedKey, true), nil
}

var requestKey = &contextKey{"request"}

// admittedRequest is the request ctx was admitted with, or nil.
func admittedRequest(ctx context.Context) *Request {
	r, _ := ctx.Value(requestKey).(*Request)
	return r
}

// ensureAdmitted admits a caller that reached a governed call without
// [Kit.Admit] (an application calling Kit.Create with its own context):
// the policies still run, on an empty request.
func (k *Kit) ensureAdmitted(ctx context.Context, op Op) (context.Context, error) {
	if admitted(ctx) {
		return ctx, nil
	}
	return k.Admit(ctx, op, nil)
}

// authorize runs every policy's Authorize in order. A refusal is reported
// to the hooks with the action.
func (k *Kit) authorize(ctx context.Context, a *Action) (err error) {
	if tctx, tr := k.trace(ctx, actionStep("policies", a)); tr != nil {
		ctx = tctx
		defer func() { tr.done(err) }()
	}
	for _, p := range k.cfg.Policies {
		if err := p.Authorize(ctx, a); err != nil {
			k.rejected(ctx, a.Op, a, err)
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
// response (X-Request-ID, and what policies set, such as RateLimit-*).
// Policies add to it; adapters' middleware copy it onto the response. It is
// nil outside a request begun with [BeginRequest].
func ResponseHeader(ctx context.Context) http.Header {
	h, _ := ctx.Value(responseHeaderKey).(http.Header)
	return h
}

// OpOpenAPI is GET /openapi.json: the route group's OpenAPI document.
const OpOpenAPI Op = "openapi"

// Authorize runs every policy's Authorize for an operation that creates
// and uses no sandbox (listing languages, reading metrics): the caller
// (ctx from [Kit.Admit]) must be allowed op. A refusal is reported to the
// hooks.
func (k *Kit) Authorize(ctx context.Context, op Op) error {
	ctx, err := k.ensureAdmitted(ctx, op)
	if err != nil {
		return err
	}
	return k.authorize(ctx, &Action{Op: op})
}

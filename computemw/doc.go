// Package computemw is the framework-neutral engine of the computemw kit:
// it lets a Go web application offer sandboxed code execution behind its
// own routes. It depends on the standard library only.
//
// A [Kit] is built once from a [Config]. It owns the registered
// [Provider]s, every live [Sandbox], the sessions, the capacity and the
// error classes. The HTTP contract (the prebuilt route group, its JSON, the
// WebSocket protocol) is package computemw/httpapi, a client of this
// package's exported API like any other; framework adapters mount it.
//
// # One governed path
//
// Every sandbox creation, execution, terminal and file operation — from
// the routes, the middleware's sandbox in an application's handler,
// [Kit.Create], [Kit.Acquire], [Kit.Hold], [Kit.Execute], [Kit.Prepare],
// [Kit.Files], [Kit.OpenFile] and [Kit.Sessions] — passes the same
// [Policy] chain (authentication, roles, rate limits, quotas), the same
// [Hooks] (metrics, the execution log, quota accounting) and the same
// limits. Sandboxes handed to application code are governed wrappers: no
// exported call reaches a provider's sandbox around them, and a wrapper
// offers [TerminalOpener], [FileOpener] and [ProcessManager] exactly when
// its provider's sandbox does.
//
// # Where to start
//
// Application authors need [New], [Config], [Kit.Close] and an adapter's
// Register/Middleware. Their own code runs sandboxes with [Kit.Execute],
// [Kit.Create], [Kit.Acquire] and [Kit.Sessions]; a transport of their own
// (a job queue, a protocol) calls [Kit.Admit] once with its caller's
// headers and address, then uses the returned context with those entries,
// and [Kit.Prepare] when output streams to the caller, [Kit.Files] and
// [Kit.OpenFile] for files, [Kit.Hold] and [Kit.OpenConnection] for a
// connection that holds a sandbox.
//
// Provider authors implement [Provider] and [Sandbox] (and may implement
// [TerminalOpener], [FileOpener], [ProcessManager], [LanguageLister],
// [HealthChecker], [Closer], [Attacher]). Policy authors implement
// [Policy] (and may offer [Hooks] and implement [UsageMeter]).
//
// Policies are packages of their own that use only this package's API:
// computemw/auth (JWT, JWKS, API keys), computemw/rbac, computemw/ratelimit
// and computemw/quota. Prometheus metrics are computemw/prommetrics, a
// [MetricsExporter]. Conformance suites for providers, adapters and stores
// are in computemw/computemwtest, an in-memory provider in
// computemw/fakeprovider.
//
// Request-scoped values travel in a [context.Context]: [SandboxFrom]
// returns the sandbox created for the request by an adapter's middleware,
// [PrincipalFrom] the authenticated caller, and [RequestIDFrom] the
// request's ID.
package computemw

// Package computemw is the framework-neutral core of the computemw kit: it
// lets a Go web application offer sandboxed code execution behind its own
// routes. It depends on the standard library only.
//
// A [Kit] is built once from a [Config]. It owns the registered
// [Provider]s, every live [Sandbox], the error → status mapping and the
// JSON contract of the prebuilt route group. Framework adapters (net/http,
// Gin, Echo, Fiber) only translate between their framework and the
// operations exposed here.
//
// # One governed path
//
// Every sandbox creation, execution, terminal and file operation — from
// the routes, the middleware's sandbox in an application's handler,
// [Kit.Create], [Kit.Acquire], [Kit.Execute], event streams and WebSocket
// messages — passes the same [Policy] chain (authentication, roles, rate
// limits, quotas), the same [Hooks] (metrics, the execution log, quota
// accounting) and the same limits. Sandboxes handed to application code are
// governed wrappers: no exported call reaches a provider's sandbox around
// them. A transport of an application's own calls [Kit.Admit] once with
// its caller's headers and address, then [Kit.Execute], [Kit.Acquire] or
// [Kit.CreateSession] with the returned context.
//
// # Where the rest lives
//
// Policies are packages of their own that use only this package's API:
// computemw/auth (JWT, JWKS, API keys), computemw/rbac, computemw/ratelimit
// and computemw/quota. Prometheus metrics are computemw/prommetrics, a
// [MetricsExporter]. Conformance suites for providers, adapters and quota
// stores are in computemw/computemwtest, an in-memory provider in
// computemw/fakeprovider, and what adapters share in computemw/adapterkit.
//
// # Where to start
//
// Application authors need [New], [Config], [Kit.Close], an adapter's
// Register/Middleware, and for their own transports [Kit.Admit] with
// [Kit.Execute], [Kit.Acquire], [Kit.Create] or [Kit.CreateSession].
// Provider authors implement [Provider] and [Sandbox] (and may implement
// [TerminalOpener], [FileOpener], [LanguageLister], [HealthChecker],
// [Closer]). Policy authors implement [Policy] (and may implement [Hooks],
// [Challenger], [UsageChecker], [UsageMeter], [UsageReporter], [Binder]). The
// rest of the Kit's methods are for adapter authors: [Kit.Routes],
// [Kit.ServeRoute], [Kit.Serve], [Kit.EnterRequest], [Kit.AdmitWebSocket],
// [Kit.ServeConn], [Kit.ErrorResponse], [Kit.NotFound], [Kit.Preflight],
// [Kit.CORSHeaders], [Kit.ChecksOrigins] and [Kit.LogLateError].
//
// Request-scoped values travel in a [context.Context]: [SandboxFrom]
// returns the sandbox created for the request by an adapter's middleware,
// [PrincipalFrom] the authenticated caller, and [RequestIDFrom] the
// request's ID.
package computemw

// Package computemw is the framework-neutral core of the computemw kit: it lets
// a Go web application offer sandboxed code execution behind its own routes.
//
// A [Kit] is built once from a [Config]. It owns the registered [Provider]s,
// every live [Sandbox], the error → status mapping and the JSON contract of
// the prebuilt route group. Framework adapters (net/http, Gin, Echo, Fiber)
// only translate between their framework and the operations exposed here:
// they call [Kit.Routes] or [Kit.Acquire] and render a [Response].
//
// Request-scoped values travel in a [context.Context]: [SandboxFrom] returns
// the sandbox created for the request by an adapter's middleware, and
// [RequestIDFrom] the request's ID.
package computemw

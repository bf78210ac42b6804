// Package oteltrace traces a computemw kit with OpenTelemetry. Its
// [Tracer] is a [computemw.Tracer]: set it as Config.Tracer and every
// governed operation, from every framework and transport, makes a span
// per step in the caller's trace, and the remote providers' HTTP calls
// made in a step are spans under it.
//
// # Wiring
//
//	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter))
//	defer tp.Shutdown(context.Background())
//	kit, err := computemw.New(computemw.Config{Providers: providers, Tracer: oteltrace.New(tp, oteltrace.Options{})})
//
// Without Config.Tracer the kit makes no span and the providers' calls
// are not traced.
//
// # The spans
//
//	computemw.admission   Kit.Admit: the policies' Admit (authentication, rate limits)
//	computemw.policies    an action's authorization by every policy
//	computemw.create      a provider's creation of a sandbox
//	computemw.execution   one execute or exec: the files it writes, the program
//	computemw.destroy     a provider's destroy of a sandbox
//
// They are children of the span the request's context carries (an
// application's own tracing middleware), else of the trace the caller
// sent (a W3C traceparent header), else roots. A provider's HTTP calls
// (E2B, Daytona, Vercel, Cloudflare, through [Transport]) are children of
// create, execution and destroy, and so are Modal's control-plane gRPC
// calls (the tracegrpc package's interceptors).
//
// # The attributes
//
//	computemw.op          the operation: execute, exec, files, create, sessions, ...
//	computemw.provider    the provider's name
//	computemw.language    the language of an execute
//	computemw.principal   the authenticated caller's ID (never a credential)
//	computemw.sandbox.id  the sandbox
//	computemw.exit_code   an execution's exit code
//	computemw.error.code  the kit's error code (TIMEOUT, RATE_LIMITED, ...); also error.type
//
// A step that fails has the status Error with the error's client-safe
// message; an internal error's text is not recorded.
package oteltrace

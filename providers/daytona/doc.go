// Package daytona is a computemw provider backed by Daytona
// (https://www.daytona.io): each sandbox is a Daytona sandbox, created
// through the control-plane API and driven through the toolbox API inside
// it. Both clients are generated from the vendor's API descriptions
// (internal/spec) with oapi-codegen; `make generate-daytona` regenerates
// them.
//
// Configure it with [Options] and [New], or from the environment with
// [FromEnv] (DAYTONA_API_KEY, DAYTONA_API_URL, DAYTONA_TARGET,
// DAYTONA_SNAPSHOT, ...).
//
// What Daytona offers and how the provider maps it:
//
//   - Exec runs the command as an asynchronous command of a toolbox session
//     made for it, and polls its state and logs: stdout and stderr stay
//     apart, reach ExecOptions.Stdout/Stderr as the polls bring them, and a
//     timeout or a cancelled context deletes the session, which ends the
//     command. ExecOptions.Stdin that is an in-memory reader (one with a Len
//     method, such as *strings.Reader or *bytes.Reader) is uploaded and
//     redirected, so the program sees its end; any other reader is
//     forwarded as it arrives through the toolbox's input endpoint, which
//     cannot signal the end of input.
//   - RunCode runs python, javascript and typescript through the toolbox's
//     code-run endpoint, which returns stdout and stderr together; when
//     output is streamed or input is given, python and javascript run as a
//     session command instead.
//   - Files map to the toolbox's file endpoints; paths are relative to the
//     sandbox's working directory and may not leave it.
//   - Terminals are not offered: the toolbox describes PTY sessions but
//     not the protocol of their WebSocket, so the kit answers that the
//     provider has no terminals.
//   - Usage counts executions; Daytona reports no CPU time or peak memory
//     per command.
//
// The toolbox runs inside the tenant's own sandbox, so the tenant chooses
// its answers. Every request goes through a client pinned to one origin
// (providers/internal/vendorhttp): the API key goes only to the origin of
// APIURL and of the toolbox proxy the control plane names, the
// organization ID only to the control plane, and no redirect is followed
// (it is an error of class UNAVAILABLE): neither API description
// documents one, and on the shared toolbox proxy a followed redirect
// would carry the key to another tenant's sandbox.
//
// Errors of the vendor map to the kit's classes (vendorhttp.Classifier).
// Only idempotent calls are retried. A Create that fails or is cancelled
// deletes what it made, also when Daytona finishes the creation after the
// client gave up.
package daytona

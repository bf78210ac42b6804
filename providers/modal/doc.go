// Package modal is a computemw provider backed by Modal Sandboxes
// (https://modal.com), through Modal's official Go SDK,
// github.com/modal-labs/modal-client/go. The SDK is pre-1.0 and changes
// between minor versions, so one file (sdk.go) adapts it and the rest of
// the package talks to that file only.
//
// Configure it with [Options] and [New], or from the environment with
// [FromEnv] (MODAL_TOKEN_ID, MODAL_TOKEN_SECRET, MODAL_SERVER_URL,
// MODAL_ENVIRONMENT).
//
// What Modal offers and how the provider maps it:
//
//   - Create makes a sandbox in one App (Options.AppName, made if missing)
//     from a registry image (Options.Image, or CreateOptions.Template),
//     with the CPU, memory, lifetime, idle timeout, working directory,
//     environment and tags asked for; without CreateOptions.Network the
//     sandbox's network is blocked. Every sandbox is tagged TagManaged and
//     with a unique TagCreate, by which a sandbox whose create was
//     cancelled, or answered after the caller gave up, is found and
//     terminated: no sandbox is orphaned.
//   - Exec runs `sh -c command` through Modal's command router: stdout and
//     stderr stream apart to ExecOptions.Stdout/Stderr, ExecOptions.Stdin
//     streams to the program and is closed at its end. Modal has no call
//     that ends one command, so each is started with its timeout (rounded
//     up to whole seconds), after which Modal ends it.
//   - RunCode runs python, sh and bash programs as an argument of their
//     interpreter.
//   - Files use the SDK's filesystem; paths are relative to the working
//     directory (Options.Workdir) and may not leave it.
//   - Terminals are not offered: the SDK's PTY exec has a fixed window and
//     no resize, so the kit answers that the provider has no terminals.
//   - Attach opens a running sandbox by ID, so kit instances that share a
//     session store serve each other's sessions.
//   - Usage counts executions; Modal reports no CPU time or peak memory
//     per command.
//
// Errors of Modal (gRPC status codes and the SDK's error types) map to
// the kit's classes (see errors.go): throttling is RATE_LIMITED with the
// Retry-After Modal asks for. Only idempotent calls (list, terminate,
// attach, file reads, stats, listings, whole-file writes, mkdir) are
// retried by the provider; the SDK's own retries of a broken create carry
// one idempotency key. Credentials go only into the SDK's gRPC metadata:
// never into errors, logs or metrics.
package modal

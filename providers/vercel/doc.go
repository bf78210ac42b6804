// Package vercel is a computemw provider backed by Vercel Sandbox
// (https://vercel.com/docs/vercel-sandbox): each sandbox is a session of a
// Vercel sandbox, created and driven over Vercel's REST API. Vercel
// publishes no Go client; the provider speaks the protocol of its
// TypeScript SDK (@vercel/sandbox 3.x): POST /v3/sandboxes to create, the
// /v2/sandboxes/sessions/{id} endpoints for commands, files, stop and
// timeouts. The retired v1 API is never called. Every call carries
// "Authorization: Bearer <token>" and the teamId query parameter; every
// duration is sent in milliseconds.
//
// Configure it with [Options] and [New], or from the environment with
// [FromEnv] (VERCEL_TOKEN, VERCEL_TEAM_ID, VERCEL_PROJECT_ID,
// VERCEL_API_URL, ...).
//
// What Vercel offers and how the provider maps it:
//
//   - Exec runs `sh -c` through POST .../cmd with wait and logs: the
//     answer streams the command's stdout and stderr as ndjson lines,
//     which reach ExecOptions.Stdout and Stderr as they arrive. A timeout
//     or a cancelled context kills the command.
//   - Stdin: the API cannot write to a running command. An in-memory
//     ExecOptions.Stdin (one with a Len method) is uploaded and
//     redirected; an interactive stream is not forwarded.
//   - RunCode runs python, javascript, sh and bash with the image's
//     interpreters, as Exec runs a command.
//   - Files: ReadFile and WriteFile use the fs/read and fs/write endpoints
//     (a gzipped tar with x-cwd); Mkdir the fs/mkdir endpoint, or
//     `mkdir -p` for missing parents; ListFiles, Stat and Remove run
//     `find` and `rm` as commands, as the vendor's SDK does. Paths are
//     relative to the session's working directory and may not leave it.
//   - Terminals are the controller's pseudo-terminals, as the vendor's CLI
//     opens them: POST .../interactive gives a WebSocket URL and a token,
//     and the terminal speaks JSON control frames and binary I/O over it.
//     The access token is never sent there.
//   - Background processes are not offered.
//   - Usage counts executions and reports the session's active CPU time.
//   - Destroy stops the session; any kit instance can attach to a running
//     session by its ID ([Provider.Attach]).
//
// Every request goes through a client pinned to the API's origin
// (providers/internal/vendorhttp): the token goes nowhere else and no
// redirect is followed. Errors of the vendor map to the kit's classes
// (vendorhttp.Classifier). Only idempotent calls are retried. A Create
// that fails or is cancelled deletes what it made, also when Vercel
// finishes the creation after the client gave up.
package vercel

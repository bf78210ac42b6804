// Command cfworker is the Cloudflare Worker starter of computemw: the
// kit's route group (POST /api/execute {language, code} → {output, stderr,
// executionTime, ...}, /api/exec, /api/files, /api/health, ...) served
// from a Worker, built with GOOS=js GOARCH=wasm and run by the Worker's
// module worker.mjs through transports/cfworker.
//
// A Worker has no Linux host, so it cannot run the local provider: it
// runs code on a remote provider configured in its vars and secrets, and
// reaches it through the Worker's fetch. It is reachable by anyone who
// finds its URL and runs code on the operator's account, so every request
// needs credentials and is held to a rate limit and a usage quota; without
// a provider or an authenticator every request is answered 503 with what
// to set.
//
//	GOOS=js GOARCH=wasm go build -trimpath -ldflags='-s -w' -o examples/cfworker/build/app.wasm ./examples/cfworker
//	cp "$(go env GOROOT)/lib/wasm/wasm_exec.js" transports/cfworker/cfworker.mjs examples/cfworker/build/
//	workerd serve examples/cfworker/config.capnp   # or: wrangler deploy (wrangler.toml)
//
// Vars and secrets (wrangler secret put NAME):
//
//	E2B_API_KEY or DAYTONA_API_KEY  the provider (required; E2B_DOMAIN,
//	                                E2B_TEMPLATE, DAYTONA_API_URL ... as usual)
//	COMPUTEMW_JWT_SECRET            HS256 secret (at least 32 bytes) of the
//	                                bearer tokens callers send; and/or
//	COMPUTEMW_API_KEY               a key callers send as X-API-Key (plan
//	                                COMPUTEMW_API_KEY_PLAN, default free).
//	                                One of the two is required.
//	COMPUTEMW_RATE_FREE             free-tier requests per 15 minutes (default
//	                                10; pro 100, enterprise 1000)
//	COMPUTEMW_QUOTA_FREE            free-plan executions per month (default 100)
//	COMPUTEMW_ALLOWED_ORIGINS       comma-separated origins whose pages may call
//	                                it (CORS; none by default)
//
// Every request runs in a Go instance of its own, and a Worker's isolates
// run side by side and are evicted at any time: a request's sandboxes are
// destroyed before it answers; the session routes (/api/sandboxes) answer
// 404 NOT_FOUND, since no store a session needs is reachable from here;
// WebSocket upgrades are refused; rate limits and quotas are counted in
// the isolate's memory (docs/serverless.md).
package main

import (
	"log/slog"
	"os"

	"github.com/computemw/kit/transports/cfworker"
)

func main() {
	h, kit := build()
	err := cfworker.Serve(h, cfworker.Options{MaxRequestBytes: 2 << 20, MaxResponseBytes: 16 << 20})
	if kit != nil {
		closeKit(kit)
	}
	if err != nil {
		slog.Error("computemw cfworker", "error", err)
		os.Exit(1)
	}
}

package graphql_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test leaves no goroutine behind: subscriptions, their output
// writers, WebSocket connections and their timers, servers. Ignored:
// fasthttp's process-wide Date refresher, which runs forever once any
// fasthttp server (Fiber's) has run, and its worker pool's cleaner, which
// notices the server's shutdown only at its next 10s tick.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
	)
}

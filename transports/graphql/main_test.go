package graphql_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test leaves no goroutine behind: subscriptions, their output
// writers, WebSocket connections and their timers, servers.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

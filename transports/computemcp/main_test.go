package computemcp_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test leaves no goroutine behind: MCP sessions and their watchers,
// tool calls, event streams, servers.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

package computemw_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test of the core leaves no goroutine behind: sessions' timers,
// WebSocket writers and input queues, health probes, streams.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

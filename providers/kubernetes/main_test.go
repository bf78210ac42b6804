package kubernetes_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test leaves no goroutine behind: watches, stdin pumps, gRPC
// connections, terminals, and the fake's processes.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

package modal_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test leaves no goroutine behind: exec streams, reaps of failed
// creates, the SDK's connections, and the fake's processes.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

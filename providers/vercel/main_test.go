package vercel_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test leaves no goroutine behind: streams, deletions of failed
// creates, HTTP connections, and the fake's processes.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

package cloudflare_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test leaves no goroutine behind: creates whose caller gave up,
// terminals, HTTP connections, and the fake's commands and PTYs.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

//go:build linux

package local_test

import (
	"testing"

	"go.uber.org/goleak"
)

// No test leaves a goroutine behind: output copiers, stdin feeders,
// terminal waiters and the provider's own.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

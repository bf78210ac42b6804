//go:build linux

package local_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// No test leaves a goroutine behind: output copiers, stdin feeders,
// terminal waiters and the provider's own. The build cache the tests
// share is removed at the end.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		removeSharedBuildCache()
		os.Exit(code)
	}))
}

package riverqueue_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		// A child instance of the crash test: it runs until it is killed.
		os.Exit(m.Run())
	}
	goleak.VerifyTestMain(m)
}

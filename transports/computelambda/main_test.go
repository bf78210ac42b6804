package computelambda_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Invocations leave no goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

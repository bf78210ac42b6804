package pgstore_test

import (
	"testing"

	"go.uber.org/goleak"
)

// No test leaves a goroutine behind (connection pools are closed).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

package computesocketio_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every connection's goroutines (its executions, terminal pump, input
// queue) and the server's end with the tests.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

package auth_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind, such as
// a key set refresh that an Authenticator's Close did not stop.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Package computemwtest holds the kit's exported conformance suites and
// test doubles: [AdapterSuite], which every framework adapter's real HTTP
// server must pass; [ProviderSuite], which every Provider must pass; and
// [fakeprovider.Provider], an in-memory provider for fast tests and benchmarks.
//
// Suites that need a service (bwrap, Redis, PostgreSQL) skip with a reason
// when it is missing, and fail instead when the CI environment variable is
// "true"; see [Require].
package computemwtest

import (
	"os"
	"testing"
)

// Require skips the test with reason when ok is false — or fails it when
// running under CI (CI=true), where every service must be present.
func Require(t testing.TB, ok bool, reason string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("required under CI: %s", reason)
	}
	t.Skip(reason)
}

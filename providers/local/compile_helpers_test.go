//go:build linux

package local_test

import (
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/providers/local"
)

// The tests' providers share one build cache, so that Go's standard
// library is compiled once per test run (the warm), not once per test.
var (
	sharedCacheOnce sync.Once
	sharedCacheDir  string
	sharedCacheErr  error
)

// sharedBuildCache is the build cache directory the tests share; it is
// removed when the tests end (TestMain).
func sharedBuildCache(t *testing.T) string {
	t.Helper()
	sharedCacheOnce.Do(func() {
		sharedCacheDir, sharedCacheErr = os.MkdirTemp("", "computemw-test-buildcache-")
	})
	if sharedCacheErr != nil {
		t.Fatal(sharedCacheErr)
	}
	return filepath.Join(sharedCacheDir, "cache")
}

func removeSharedBuildCache() {
	if sharedCacheDir != "" {
		_ = os.RemoveAll(sharedCacheDir)
	}
}

// ciToolchains are the compiled languages whose toolchains the CI machine
// has: their tests fail there instead of skipping.
var ciToolchains = []string{"go", "c", "cpp", "rust", "java"}

// requireLanguage skips the test when the provider lacks a language (and
// fails it under CI for the toolchains CI has).
func requireLanguage(t *testing.T, p *local.Provider, lang string) {
	t.Helper()
	if slices.Contains(p.Languages(), lang) {
		return
	}
	reason := "the " + lang + " toolchain is not installed in the sandbox's system directories"
	if slices.Contains(ciToolchains, lang) {
		computemwtest.Require(t, false, reason)
	}
	t.Skip(reason)
}

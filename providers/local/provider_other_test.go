//go:build !linux

package local_test

import (
	"runtime"
	"strings"
	"testing"

	"github.com/computemw/kit/providers/local"
)

// Off Linux the package builds (the Makefile checks it for macOS), and New
// says clearly why it cannot run and what to use instead.
func TestNewFailsOffLinux(t *testing.T) {
	p, err := local.New(local.Config{})
	if err == nil || p != nil {
		t.Fatalf("New on %s: %v, %v", runtime.GOOS, p, err)
	}
	want := "the local provider needs Linux (bubblewrap namespaces); use a remote provider on " + runtime.GOOS
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

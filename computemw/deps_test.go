package computemw_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The core compiles with the standard library only: no framework, JWT,
// limiter or Prometheus module reaches a user who imports it. Its own
// internal packages may be imported; the list is transitive, so what they
// import is checked too.
func TestCoreDependsOnTheStandardLibraryOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "github.com/computemw/kit/computemw").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if p != "github.com/computemw/kit/computemw" && !strings.HasPrefix(p, "github.com/computemw/kit/computemw/internal/") {
			t.Errorf("the core depends on %s", p)
		}
	}
}

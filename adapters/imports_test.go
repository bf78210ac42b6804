package adapters_test

import (
	"os/exec"
	"strings"
	"testing"
)

// No adapter imports another, nor a transport, directly or through a
// dependency: what they share lives in computemw/adapterkit, and a
// transport reaches them as an httpapi.Endpoint the application hands over.
func TestNoAdapterImportsAnother(t *testing.T) {
	const module = "github.com/computemw/kit/adapters/"
	adapters := []string{"computehttp", "computegin", "computeecho", "computeechov5", "computefiber", "computefiberv3"}
	for _, a := range adapters {
		out, err := exec.Command("go", "list", "-deps", module+a).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", a, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, "github.com/computemw/kit/transports/") {
				t.Errorf("adapter %s imports transport %s", a, dep)
			}
			for _, other := range adapters {
				if other != a && dep == module+other {
					t.Errorf("adapter %s imports adapter %s", a, other)
				}
			}
		}
	}
}

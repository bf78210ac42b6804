package kubernetes_test

import (
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
)

// The provider conformance suite, on client-go fakes and the fake data
// plane, with claims on a warm pool and with Sandboxes from a pod
// template.
func TestProviderSuite(t *testing.T) {
	for _, pool := range []string{"python-pool", ""} {
		name := "WarmPool"
		if pool == "" {
			name = "PodTemplate"
		}
		t.Run(name, func(t *testing.T) {
			computemwtest.ProviderSuite(t, func(t *testing.T) computemw.Provider {
				e := newEnv(t, nil)
				o := e.options(pool)
				o.MaxOutputBytes = 64 << 10
				return newProvider(t, o)
			}, computemwtest.ProviderSuiteOptions{
				MaxOutputBytes: 64 << 10,
				Languages:      map[string]computemwtest.ProgramCase{"sh": {Code: "echo $((6*7))", Stdout: "42\n"}},
			})
		})
	}
}

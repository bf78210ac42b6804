package kubernetes_test

import (
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/providers/kubernetes"
)

// The provider conformance suite, on client-go fakes and the fake data
// plane, with claims on a warm pool and with Sandboxes from a pod
// template, through sandboxd; and through pods/exec.
func TestProviderSuite(t *testing.T) {
	for _, mode := range []string{"WarmPool", "PodTemplate", "PodExec"} {
		t.Run(mode, func(t *testing.T) {
			computemwtest.ProviderSuite(t, func(t *testing.T) computemw.Provider {
				e := newEnv(t, nil)
				var o kubernetes.Options
				switch mode {
				case "WarmPool":
					o = e.options("python-pool")
				case "PodTemplate":
					o = e.options("")
				default:
					o = e.podExecOptions("python-pool")
				}
				o.MaxOutputBytes = 64 << 10
				return newProvider(t, o)
			}, computemwtest.ProviderSuiteOptions{
				MaxOutputBytes: 64 << 10,
				Languages:      map[string]computemwtest.ProgramCase{"sh": {Code: "echo $((6*7))", Stdout: "42\n"}},
			})
		})
	}
}

package cloudflare_test

import (
	"os/exec"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/providers/cloudflare"
)

// The kit's provider conformance suite, on the bridge's contract fake.
func TestProviderSuite(t *testing.T) {
	langs := map[string]computemwtest.ProgramCase{
		"sh": {Code: "echo from sh", Stdout: "from sh\n"},
	}
	if _, err := exec.LookPath("python3"); err == nil {
		langs["python"] = computemwtest.ProgramCase{Code: "print(6*7)", Stdout: "42\n"}
	}
	computemwtest.ProviderSuite(t, func(t *testing.T) computemw.Provider {
		p, _ := newProvider(t, func(o *cloudflare.Options) { o.MaxOutputBytes = 64 << 10 })
		return p
	}, computemwtest.ProviderSuiteOptions{Languages: langs, MaxOutputBytes: 64 << 10})
}

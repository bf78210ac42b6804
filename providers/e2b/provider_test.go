package e2b_test

import (
	"os/exec"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/providers/e2b"
)

func TestProviderSuite(t *testing.T) {
	langs := map[string]computemwtest.ProgramCase{
		"sh":   {Code: "printf 'from sh\\n'", Stdout: "from sh\n"},
		"bash": {Code: `x=(a b); echo "${#x[@]}"`, Stdout: "2\n"},
	}
	if _, err := exec.LookPath("python3"); err == nil {
		langs["python"] = computemwtest.ProgramCase{Code: "print(6 * 7)", Stdout: "42\n"}
	}
	computemwtest.ProviderSuite(t, func(t *testing.T) computemw.Provider {
		p, _ := newProvider(t, func(o *e2b.Options) { o.MaxOutputBytes = 64 << 10 })
		return p
	}, computemwtest.ProviderSuiteOptions{Languages: langs, MaxOutputBytes: 64 << 10})
}

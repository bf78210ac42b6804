package vercel_test

import (
	"os/exec"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/providers/vercel"
	"github.com/computemw/kit/providers/vercel/vercelfake"
)

const suiteOutputCap = 64 << 10

func TestProviderSuite(t *testing.T) {
	langs := map[string]computemwtest.ProgramCase{
		"sh":   {Code: "printf 'from sh\\n'", Stdout: "from sh\n"},
		"bash": {Code: `x=(a b); echo "${#x[@]}"`, Stdout: "2\n"},
	}
	if _, err := exec.LookPath("python3"); err == nil {
		langs["python"] = computemwtest.ProgramCase{Code: "print(6*7)", Stdout: "42\n"}
	}
	if _, err := exec.LookPath("node"); err == nil {
		langs["javascript"] = computemwtest.ProgramCase{Code: "console.log(6*7)", Stdout: "42\n"}
	}
	computemwtest.ProviderSuite(t, func(t *testing.T) computemw.Provider {
		p, _ := newProvider(t, vercelfake.Options{StartPolls: 2}, vercel.Options{MaxOutputBytes: suiteOutputCap})
		return p
	}, computemwtest.ProviderSuiteOptions{
		Languages:        langs,
		MaxOutputBytes:   suiteOutputCap,
		OperationTimeout: 30 * time.Second,
	})
}

package daytona_test

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/providers/daytona"
	"github.com/computemw/kit/providers/daytona/daytonafake"
)

const suiteOutputCap = 64 << 10

// newProvider starts a fake and a provider on it. When the test ends it
// closes the provider and checks the fake's books: no sandbox and no
// command left.
func newProvider(t *testing.T, fopts daytonafake.Options, opts daytona.Options) (*daytona.Provider, *daytonafake.Server) {
	t.Helper()
	fake := daytonafake.New(t, fopts)
	opts.APIKey = fake.APIKey
	opts.APIURL = fake.URL
	if opts.PollInterval == 0 {
		opts.PollInterval = 5 * time.Millisecond
	}
	if opts.MaxPollInterval == 0 {
		opts.MaxPollInterval = 50 * time.Millisecond
	}
	if opts.CleanupWindow == 0 {
		opts.CleanupWindow = 5 * time.Second
	}
	p, err := daytona.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		if live := fake.Live(); len(live) != 0 {
			t.Errorf("sandboxes left on the fake's books: %v", live)
		}
		if n := fake.Running(); n != 0 {
			t.Errorf("%d commands still running on the fake", n)
		}
	})
	return p, fake
}

func TestProviderSuite(t *testing.T) {
	langs := map[string]computemwtest.ProgramCase{}
	if _, err := exec.LookPath("python3"); err == nil {
		langs["python"] = computemwtest.ProgramCase{Code: "print(6*7)", Stdout: "42\n"}
	}
	if _, err := exec.LookPath("node"); err == nil {
		langs["javascript"] = computemwtest.ProgramCase{Code: "console.log(6*7)", Stdout: "42\n"}
	}
	computemwtest.ProviderSuite(t, func(t *testing.T) computemw.Provider {
		p, _ := newProvider(t, daytonafake.Options{StartPolls: 2}, daytona.Options{MaxOutputBytes: suiteOutputCap})
		return p
	}, computemwtest.ProviderSuiteOptions{
		Languages:        langs,
		MaxOutputBytes:   suiteOutputCap,
		OperationTimeout: 30 * time.Second,
	})
}

package daytona_test

import (
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/daytona"
	"github.com/computemw/kit/providers/daytona/daytonafake"
)

// The provider declares the SDK version whose toolbox API it implements,
// so the toolbox answers a command's logs with stdout and stderr apart
// (the fake, like the daemon, answers the legacy combined text to a client
// that sends no version).
func TestExecLogsSplitBySDKVersion(t *testing.T) {
	p, _ := newProvider(t, daytonafake.Options{}, daytona.Options{})
	sb := create(t, p, computemw.CreateOptions{})
	res, err := sb.Exec(ctxT(t, 20*time.Second), "echo out; echo err >&2", computemw.ExecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stdout != "out\n" || res.Stderr != "err\n" {
		t.Errorf("stdout %q, stderr %q; want them apart", res.Stdout, res.Stderr)
	}
}

// The legacy answer of the logs, the combined output, is understood both
// as text and as a JSON string.
func TestExecLegacyLogs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault daytonafake.Fault
	}{
		{"text/plain", daytonafake.Fault{Op: "GetSessionCommandLogs", Times: 1000, LegacyLogsAsText: true}},
		{"JSON string", daytonafake.Fault{Op: "GetSessionCommandLogs", Times: 1000, LegacyLogsAsJSON: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, fake := newProvider(t, daytonafake.Options{}, daytona.Options{})
			sb := create(t, p, computemw.CreateOptions{})
			fake.Inject(tc.fault)
			res, err := sb.Exec(ctxT(t, 20*time.Second), "echo hello", computemw.ExecOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Stdout != "hello\n" || res.ExitCode != 0 {
				t.Errorf("stdout %q, exit %d", res.Stdout, res.ExitCode)
			}
		})
	}
}

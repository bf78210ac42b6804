package daytonafake

import (
	"net/http"
	"testing"
)

// The log format follows the daemon's rule on X-Daytona-SDK-Version.
func TestWantsSplitLogs(t *testing.T) {
	for v, want := range map[string]bool{
		"": false, "0.166.9": false, "0.27.0": false, "not-a-version": false,
		"0.167.0": true, "0.190.0": true, "v0.188.1": true, "1.0.0": true, "0.0.0-dev": true,
	} {
		h := http.Header{}
		if v != "" {
			h.Set("X-Daytona-SDK-Version", v)
		}
		if got := wantsSplitLogs(h); got != want {
			t.Errorf("version %q: split = %v, want %v", v, got, want)
		}
	}
}

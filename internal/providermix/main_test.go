// Package providermix tests the kit's strategies across the real
// providers: the five remote ones (E2B, Daytona, Vercel, Modal,
// Cloudflare), each on its contract fake on loopback, and the local one
// (real bubblewrap sandboxes) when bwrap is installed. A strategy over
// them falls back from a provider whose service is down to a healthy one,
// Priority keeps to its first healthy provider, and RoundRobin spreads
// creations over all of them; no sandbox, process or connection is left
// behind.
package providermix

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test leaves no goroutine behind: the providers' reaps of failed
// creates and health probes, the SDKs' connections and the fakes'
// processes.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

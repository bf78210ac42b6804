package computemwtest

import (
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/fakeprovider"
)

// MeteredKit builds a kit over a fresh [fakeprovider.Provider] named "fake" whose
// executions report measured (see [Metered]); cfg's Providers are set by
// it, and its Logger when nil. At cleanup it closes the kit and fails the
// test if any sandbox is left.
func MeteredKit(t testing.TB, cfg computemw.Config, measured computemw.Result) (*computemw.Kit, *fakeprovider.Provider) {
	t.Helper()
	fake := fakeprovider.New("fake")
	return kitOver(t, cfg, fake, fakeprovider.Metered(fake, measured)), fake
}

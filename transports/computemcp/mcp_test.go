package computemcp_test

import (
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/transports/computemcp"
	"github.com/computemw/kit/transports/computemcp/computemcptest"
)

// TestGoClient drives the endpoint with the Go SDK's client over real
// bwrap sandboxes: the whole agent's path of computemcptest.Suite.
func TestGoClient(t *testing.T) {
	kit := localKit(t, computemw.Config{})
	base, _ := serve(t, kit, computemcp.Options{})
	computemcptest.Suite(t, kit, base+"/api/mcp", nil)
}

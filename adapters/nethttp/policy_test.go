package computehttp_test

import (
	"testing"

	"github.com/computemw/kit/adapters/internal/harness"
	"github.com/computemw/kit/computemw/computemwtest"
)

func TestPolicySuite(t *testing.T) {
	computemwtest.PolicySuite(t, computemwtest.Harness{Name: "net/http", Start: harness.NetHTTP})
}

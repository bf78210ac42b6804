package main

import (
	"testing"

	"github.com/computemw/kit/internal/exampletest"
)

func TestExample(t *testing.T) {
	srv := exampletest.Start(t, "github.com/computemw/kit/examples/fiberv3")
	exampletest.CheckFrameworkStarter(t, srv)
	srv.Stop(t)
}

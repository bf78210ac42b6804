package adapters_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/computemw/kit/adapters/internal/harness"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/httpapi"
)

// TestMCPEndpointRefused checks that every adapter refuses, at
// registration, an extra endpoint the route group cannot serve — a path
// that is not static or that a prebuilt route or another endpoint has, a
// nil handler — with the same message, and accepts a good one.
func TestMCPEndpointRefused(t *testing.T) {
	kit, _ := computemwtest.SuiteKit(t, computemw.Config{})
	ok := http.NotFoundHandler()
	apps := map[string]func(eps ...httpapi.Endpoint){
		"nethttp": func(eps ...httpapi.Endpoint) { harness.NetHTTPHandler(kit, eps...) },
		"gin":     func(eps ...httpapi.Endpoint) { harness.GinEngine(kit, eps...) },
		"echo":    func(eps ...httpapi.Endpoint) { harness.EchoApp(kit, eps...) },
		"echov5":  func(eps ...httpapi.Endpoint) { harness.EchoV5App(kit, eps...) },
		"fiber":   func(eps ...httpapi.Endpoint) { harness.FiberAppWith(kit, eps, nil) },
		"fiberv3": func(eps ...httpapi.Endpoint) { harness.FiberV3AppWith(kit, eps, nil) },
	}
	bad := map[string][]httpapi.Endpoint{
		"no handler":      {{Path: "/mcp"}},
		"a parameter":     {{Path: "/mcp/:id", Handler: ok}},
		"a wildcard":      {{Path: "/mcp/*", Handler: ok}},
		"a trailing /":    {{Path: "/mcp/", Handler: ok}},
		"relative":        {{Path: "mcp", Handler: ok}},
		"the root":        {{Path: "/", Handler: ok}},
		"a route's path":  {{Path: "/execute", Handler: ok}},
		"under a route":   {{Path: "/sandboxes/mcp", Handler: ok}},
		"the websocket":   {{Path: "/ws", Handler: ok}},
		"twice":           {{Path: "/mcp", Handler: ok}, {Path: "/mcp", Handler: ok}},
		"under the other": {{Path: "/mcp", Handler: ok}, {Path: "/mcp/x", Handler: ok}},
	}
	for name, register := range apps {
		for what, eps := range bad {
			msg := panicOf(func() { register(eps...) })
			if !strings.HasPrefix(msg, "computemw: endpoint") {
				t.Errorf("%s, an endpoint with %s: panic %q", name, what, msg)
			}
		}
		if msg := panicOf(func() {
			register(httpapi.Endpoint{Path: "/mcp", Handler: ok}, httpapi.Endpoint{Path: "/agents/v1", Handler: ok})
		}); msg != "" {
			t.Errorf("%s, good endpoints: panic %q", name, msg)
		}
	}
}

// panicOf runs f and returns the text of its panic, or "".
func panicOf(f func()) (msg string) {
	defer func() {
		if p := recover(); p != nil {
			msg = fmt.Sprint(p)
		}
	}()
	f()
	return ""
}

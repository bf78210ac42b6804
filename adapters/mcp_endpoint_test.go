package adapters_test

import (
	"context"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gofiber/fiber/v2"
	fiberv3 "github.com/gofiber/fiber/v3"
	"github.com/labstack/echo/v4"
	echov5 "github.com/labstack/echo/v5"

	"fmt"
	"net/http"
	"strings"
	"testing"

	computeecho "github.com/computemw/kit/adapters/computeecho"
	"github.com/computemw/kit/adapters/computeechov5"
	"github.com/computemw/kit/adapters/computefiber"
	"github.com/computemw/kit/adapters/computefiberv3"
	computegin "github.com/computemw/kit/adapters/computegin"
	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/transports/computemcp"
	"github.com/computemw/kit/transports/computemcp/computemcptest"

	"github.com/computemw/kit/adapters/internal/harness"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/auth"
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

// TestMCPEndpointAtRoot serves the route group at the root of the host on
// each framework: there the protected-resource metadata's path is in the
// group, and the adapter's Register serves it beside the MCP endpoint.
func TestMCPEndpointAtRoot(t *testing.T) {
	kit, _ := computemwtest.SuiteKit(t, computemw.Config{})
	srv := computemcp.New(kit, computemcp.Options{})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("mcp Close: %v", err)
		}
	})
	eps := []httpapi.Endpoint{srv.Endpoint(),
		{Path: computemcp.MetadataPath(computemcp.EndpointPath), Handler: srv.Metadata()}}
	apps := map[string]func(t *testing.T) string{
		"nethttp": func(t *testing.T) string {
			mux := http.NewServeMux()
			computehttp.Mount(mux, "/", kit, eps...)
			return harness.ServeHTTP(t, mux)
		},
		"gin": func(t *testing.T) string {
			r := gin.New()
			computegin.Register(r, kit, eps...)
			return harness.ServeHTTP(t, r)
		},
		"echo": func(t *testing.T) string {
			e := echo.New()
			computeecho.Register(e, kit, eps...)
			return harness.ServeHTTP(t, e)
		},
		"echov5": func(t *testing.T) string {
			e := echov5.New()
			computeechov5.Register(e, kit, eps...)
			return harness.ServeHTTP(t, e)
		},
		"fiber": func(t *testing.T) string {
			app := fiber.New(fiber.Config{DisableStartupMessage: true})
			computefiber.Register(app, kit, eps...)
			return harness.ServeFiber(t, app)
		},
		"fiberv3": func(t *testing.T) string {
			app := fiberv3.New()
			computefiberv3.Register(app, kit, eps...)
			return harness.ServeFiberV3(t, app)
		},
	}
	for name, start := range apps {
		t.Run(name, func(t *testing.T) {
			base := start(t)
			checkMetadataAt(t, base+computemcp.MetadataPath(computemcp.EndpointPath), base+computemcp.EndpointPath)
		})
	}
}

// TestMCPEndpointPrincipal: an application that authenticated the caller
// in its own middleware (computemw.WithPrincipal in the request's context,
// Fiber's user context) passes the principal on to the MCP endpoint
// through every adapter, as to the prebuilt routes: a client without a
// token, refused by the kit's authenticator otherwise, connects.
func TestMCPEndpointPrincipal(t *testing.T) {
	authn, err := auth.New(auth.Config{JWT: &auth.JWTConfig{Algorithms: []string{"HS256"},
		Keys: []auth.JWTKey{{Algorithm: "HS256", Key: []byte(mcpSecret)}}}})
	if err != nil {
		t.Fatal(err)
	}
	kit, _ := computemwtest.SuiteKit(t, computemw.Config{Policies: []computemw.Policy{authn}})
	srv := computemcp.New(kit, computemcp.Options{})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("mcp Close: %v", err)
		}
	})
	user := func(ctx context.Context) context.Context {
		return computemw.WithPrincipal(ctx, computemw.Principal{ID: "app-user", Role: "developer"})
	}
	apps := map[string]func(t *testing.T, authenticated bool) string{
		"nethttp": func(t *testing.T, authenticated bool) string {
			h := computehttp.Handler(kit, srv.Endpoint())
			return harness.ServeHTTP(t, http.StripPrefix("/api", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if authenticated {
					r = r.WithContext(user(r.Context()))
				}
				h.ServeHTTP(w, r)
			})))
		},
		"gin": func(t *testing.T, authenticated bool) string {
			r := gin.New()
			computegin.Register(r.Group("/api", func(c *gin.Context) {
				if authenticated {
					c.Request = c.Request.WithContext(user(c.Request.Context()))
				}
			}), kit, srv.Endpoint())
			return harness.ServeHTTP(t, r)
		},
		"echo": func(t *testing.T, authenticated bool) string {
			e := echo.New()
			computeecho.Register(e.Group("/api", func(next echo.HandlerFunc) echo.HandlerFunc {
				return func(c echo.Context) error {
					if authenticated {
						c.SetRequest(c.Request().WithContext(user(c.Request().Context())))
					}
					return next(c)
				}
			}), kit, srv.Endpoint())
			return harness.ServeHTTP(t, e)
		},
		"echov5": func(t *testing.T, authenticated bool) string {
			e := echov5.New()
			computeechov5.Register(e.Group("/api", func(next echov5.HandlerFunc) echov5.HandlerFunc {
				return func(c *echov5.Context) error {
					if authenticated {
						c.SetRequest(c.Request().WithContext(user(c.Request().Context())))
					}
					return next(c)
				}
			}), kit, srv.Endpoint())
			return harness.ServeHTTP(t, e)
		},
		"fiber": func(t *testing.T, authenticated bool) string {
			app := fiber.New(fiber.Config{DisableStartupMessage: true})
			computefiber.Register(app.Group("/api", func(c *fiber.Ctx) error {
				if authenticated {
					c.SetUserContext(user(c.UserContext()))
				}
				return c.Next()
			}), kit, srv.Endpoint())
			return harness.ServeFiber(t, app)
		},
		"fiberv3": func(t *testing.T, authenticated bool) string {
			app := fiberv3.New()
			computefiberv3.Register(app.Group("/api", func(c fiberv3.Ctx) error {
				if authenticated {
					c.SetContext(user(c.Context()))
				}
				return c.Next()
			}), kit, srv.Endpoint())
			return harness.ServeFiberV3(t, app)
		},
	}
	for name, start := range apps {
		t.Run(name, func(t *testing.T) {
			if _, err := computemcptest.Connect(t, start(t, false)+"/api/mcp", nil, nil); err == nil {
				t.Fatalf("connected without the application's principal")
			}
			cs, err := computemcptest.Connect(t, start(t, true)+"/api/mcp", nil, nil)
			if err != nil {
				t.Fatalf("initialize as the application's principal: %v", err)
			}
			if err := cs.Close(); err != nil {
				t.Errorf("closing the session: %v", err)
			}
			waitFor(t, func() bool { return srv.Sessions() == 0 })
		})
	}
}

package harness

import (
	"log/slog"
	"net/http"
	"testing"

	"github.com/computemw/kit/adapters/computeechov5"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"
)

// EchoV5App is the Echo v5 app: the same routes as [EchoApp], with the
// extra endpoints eps in its route group.
func EchoV5App(kit *computemw.Kit, eps ...httpapi.Endpoint) *echo.Echo {
	e := echo.NewWithConfig(echo.Config{
		Logger:           slog.New(slog.DiscardHandler),
		HTTPErrorHandler: computeechov5.HTTPErrorHandler(kit, nil),
	})
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisablePrintStack: true}))
	computeechov5.Register(e.Group(computemwtest.Prefix), kit, eps...)
	mw := computeechov5.Middleware(kit)
	e.GET(computemwtest.SandboxPath, func(c *echo.Context) error {
		if computeechov5.Sandbox(c) == nil {
			return c.String(http.StatusInternalServerError, "no sandbox")
		}
		return c.JSON(http.StatusOK, computemwtest.SandboxInfoFor(c.Request().Context()))
	}, mw)
	e.POST(computemwtest.RunPath, func(c *echo.Context) error {
		res, err := computemwtest.RunInRequest(c.Request().Context(), c.Request().Body)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, res)
	}, mw)
	e.GET(computemwtest.PanicPath, func(*echo.Context) error { panic("handler panic") }, mw)
	e.GET(computemwtest.ErrorPath, func(*echo.Context) error { return computemwtest.SuiteError() }, mw)
	bare := func(needSandbox bool) echo.HandlerFunc {
		return func(c *echo.Context) error {
			if needSandbox && computeechov5.Sandbox(c) == nil {
				return c.String(http.StatusInternalServerError, "no sandbox")
			}
			return c.JSON(http.StatusOK, ok)
		}
	}
	e.GET(BarePath, bare(false))
	e.GET(MiddlewarePath, bare(true), mw)
	e.POST(BareExecPath, func(c *echo.Context) error {
		var req httpapi.ExecRequest
		if err := c.Bind(&req); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, bareExec(&req))
	})
	return e
}

// EchoV5 serves the Echo v5 app on an http.Server, as echo.StartConfig
// does.
func EchoV5(t *testing.T, kit *computemw.Kit) string { return ServeHTTP(t, EchoV5App(kit)) }

package computeecho_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	computeecho "github.com/computemw/kit/adapters/computeecho"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/fakeprovider"
	"github.com/labstack/echo/v4"
)

// Register the route group under /api, and a handler of your own behind
// the sandbox middleware; errors are rendered by the kit's error handler.
func ExampleRegister() {
	kit, _ := computemw.New(computemw.Config{Providers: []computemw.Provider{fakeprovider.New("fake")}})
	defer kit.Close(context.Background())

	e := echo.New()
	e.HTTPErrorHandler = computeecho.HTTPErrorHandler(kit, e.DefaultHTTPErrorHandler)
	computeecho.Register(e.Group("/api"), kit)
	e.POST("/run", func(c echo.Context) error {
		res, err := computeecho.Sandbox(c).Exec(c.Request().Context(), "sleep", computemw.ExecOptions{Timeout: 1})
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, res)
	}, computeecho.Middleware(kit))

	for _, path := range []string{"/api/exec", "/run"} {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(`{"command":"echo 4"}`))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		fmt.Println(rec.Code)
	}
	// Output:
	// 200
	// 408
}

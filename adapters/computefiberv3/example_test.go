package computefiberv3_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/computemw/kit/adapters/computefiberv3"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/fakeprovider"
	"github.com/gofiber/fiber/v3"
)

// Register the route group under /api, and a handler of your own behind
// the sandbox middleware (New).
func ExampleRegister() {
	kit, _ := computemw.New(computemw.Config{Providers: []computemw.Provider{fakeprovider.New("fake")}})
	defer kit.Close(context.Background())

	app := fiber.New(fiber.Config{ErrorHandler: computefiberv3.ErrorHandler(kit)})
	computefiberv3.Register(app.Group("/api"), kit)
	app.Post("/run", computefiberv3.New(kit), func(c fiber.Ctx) error {
		res, err := computefiberv3.Sandbox(c).Exec(computefiberv3.Context(c), "exit 2", computemw.ExecOptions{})
		if err != nil {
			return err
		}
		return c.JSON(res)
	})

	for _, path := range []string{"/api/exec", "/run"} {
		req := httptest.NewRequest("POST", path, strings.NewReader(`{"command":"echo 4"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := app.Test(req, fiber.TestConfig{Timeout: 0})
		if err != nil {
			panic(err)
		}
		fmt.Println(resp.StatusCode)
	}
	// Output:
	// 200
	// 200
}

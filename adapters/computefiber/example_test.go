package computefiber_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"

	computefiber "github.com/computemw/kit/adapters/computefiber"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/fakeprovider"
	"github.com/gofiber/fiber/v2"
)

// Register the route group under /api, and a handler of your own behind
// the sandbox middleware (New).
func ExampleRegister() {
	kit, _ := computemw.New(computemw.Config{Providers: []computemw.Provider{fakeprovider.New("fake")}})
	defer kit.Close(context.Background())

	app := fiber.New(fiber.Config{ErrorHandler: computefiber.ErrorHandler(kit), DisableStartupMessage: true})
	computefiber.Register(app.Group("/api"), kit)
	app.Post("/run", computefiber.New(kit), func(c *fiber.Ctx) error {
		res, err := computefiber.Sandbox(c).Exec(computefiber.Context(c), "exit 2", computemw.ExecOptions{})
		if err != nil {
			return err
		}
		return c.JSON(res)
	})

	for _, path := range []string{"/api/exec", "/run"} {
		req := httptest.NewRequest("POST", path, strings.NewReader(`{"command":"echo 4"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := app.Test(req, -1)
		if err != nil {
			panic(err)
		}
		fmt.Println(resp.StatusCode)
	}
	// Output:
	// 200
	// 200
}

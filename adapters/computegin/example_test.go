package computegin_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	computegin "github.com/computemw/kit/adapters/computegin"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/fakeprovider"
	"github.com/gin-gonic/gin"
)

// Register the route group under /api, and a handler of your own behind
// the sandbox middleware that answers with the Result as it is.
func ExampleRegister() {
	gin.SetMode(gin.ReleaseMode)
	kit, _ := computemw.New(computemw.Config{Providers: []computemw.Provider{fakeprovider.New("fake")}})
	defer kit.Close(context.Background())

	r := gin.New()
	r.Use(gin.Recovery(), computegin.ErrorHandler(kit))
	computegin.Register(r.Group("/api"), kit)
	r.POST("/run", computegin.Middleware(kit), func(c *gin.Context) {
		res, err := computegin.Sandbox(c).Exec(c.Request.Context(), "echo mine", computemw.ExecOptions{})
		if err != nil {
			_ = c.Error(err)
			return
		}
		c.JSON(http.StatusOK, res)
	})

	for _, path := range []string{"/api/exec", "/run"} {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(`{"command":"echo 4"}`))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		fmt.Println(rec.Code, strings.Contains(rec.Body.String(), `"success":true`))
	}
	// Output:
	// 200 true
	// 200 true
}

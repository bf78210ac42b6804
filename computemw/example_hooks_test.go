package computemw_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/fakeprovider"
	"github.com/computemw/kit/computemw/httpapi"
)

// Hooks that record each execution's measured usage, the way a billing
// pipeline would: only finished executions matter, so only
// ExecutionFinished is set.
func ExampleHooks() {
	var lines []string
	usage := &computemw.Hooks{
		ExecutionFinished: func(ctx context.Context, a *computemw.Action, res *computemw.Result, err error, took time.Duration) {
			status := "ok"
			if err != nil {
				status = string(computemw.AsError(err).Code)
			}
			cpu := time.Duration(0)
			if res != nil {
				cpu = res.CPUTime
			}
			// A real hook would hand this to a queue; hooks run on the request path.
			lines = append(lines, fmt.Sprintf("op=%s provider=%s language=%s status=%s cpu=%s", a.Op, a.Provider, a.Language, status, cpu))
		},
	}
	kit, _ := computemw.New(computemw.Config{
		Providers: []computemw.Provider{fakeprovider.New("fake")},
		Hooks:     []*computemw.Hooks{usage},
	})
	defer kit.Close(context.Background())

	for _, rt := range httpapi.New(kit).Routes() {
		if rt.Path == "/execute" {
			for _, code := range []string{"echo hi", "oom"} {
				httpapi.New(kit).ServeRoute(context.Background(), rt, &computemw.Request{
					Method: http.MethodPost,
					Header: http.Header{"Content-Type": {"application/json"}},
					Body:   strings.NewReader(`{"language":"python","code":"` + code + `"}`),
				})
			}
		}
	}
	for _, l := range lines {
		fmt.Println(l)
	}
	// Output:
	// op=execute provider=fake language=python status=ok cpu=0s
	// op=execute provider=fake language=python status=RESOURCE_ERROR cpu=0s
}

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

// usageLog records each execution's measured usage, the way a billing
// pipeline would: a Hooks implementation that only cares about finished
// executions.
type usageLog struct {
	computemw.NopHooks
	lines []string
}

func (u *usageLog) ExecutionFinished(ctx context.Context, a *computemw.Action, res *computemw.Result, err error, took time.Duration) {
	status := "ok"
	if err != nil {
		status = string(computemw.AsError(err).Code)
	}
	cpu := time.Duration(0)
	if res != nil {
		cpu = res.CPUTime
	}
	// A real hook would hand this to a queue; hooks run on the request path.
	u.lines = append(u.lines, fmt.Sprintf("op=%s provider=%s language=%s status=%s cpu=%s", a.Op, a.Provider, a.Language, status, cpu))
}

func ExampleHooks() {
	usage := &usageLog{}
	kit, _ := computemw.New(computemw.Config{
		Providers: []computemw.Provider{fakeprovider.New("fake")},
		Hooks:     []computemw.Hooks{usage},
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
	for _, l := range usage.lines {
		fmt.Println(l)
	}
	// Output:
	// op=execute provider=fake language=python status=ok cpu=0s
	// op=execute provider=fake language=python status=RESOURCE_ERROR cpu=0s
}

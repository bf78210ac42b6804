package computemw_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/fakeprovider"
	"github.com/computemw/kit/computemw/httpapi"
)

// Build a kit once, then run code through its governed path. A real app
// passes local.New(local.Config{}) or a remote provider; the fake provider
// keeps the example self-contained.
func ExampleNew() {
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{fakeprovider.New("fake")}})
	if err != nil {
		panic(err)
	}
	defer kit.Close(context.Background())

	res, err := kit.Execute(context.Background(), computemw.Run{Language: "python", Code: "echo 4"})
	fmt.Printf("%q %d %v\n", res.Stdout, res.ExitCode, err)
	// Output: "4\n" 0 <nil>
}

// A transport of your own admits its caller once, with the caller's
// headers and address, then runs with the returned context: policies,
// hooks, metrics and quotas hold as on the routes.
func ExampleKit_Admit() {
	kit, _ := computemw.New(computemw.Config{Providers: []computemw.Provider{fakeprovider.New("fake")}})
	defer kit.Close(context.Background())

	ctx, err := kit.Admit(context.Background(), computemw.OpExec, &computemw.Request{
		Header: http.Header{"X-Request-Id": {"job-42"}}, RemoteAddr: "192.0.2.1:4000",
	})
	if err != nil {
		fmt.Println(httpapi.New(kit).ErrorResponse(ctx, err, nil).Status)
		return
	}
	res, err := kit.Execute(ctx, computemw.Run{Command: "echo from a job queue"})
	fmt.Print(computemw.RequestIDFrom(ctx), " ", res.Stdout, err)
	// Output: job-42 from a job queue
	// <nil>
}

// A sandbox of one's own, for several steps; it is governed like a
// request's, and destroyed by Destroy (or Kit.Close).
func ExampleKit_Create() {
	kit, _ := computemw.New(computemw.Config{Providers: []computemw.Provider{fakeprovider.New("fake")}})
	defer kit.Close(context.Background())
	ctx := context.Background()

	sb, err := kit.Create(ctx, "", computemw.CreateOptions{})
	if err != nil {
		panic(err)
	}
	defer sb.Destroy(ctx)
	_ = sb.WriteFile(ctx, "data.txt", []byte("kept"))
	b, _ := sb.ReadFile(ctx, "data.txt")
	res, _ := sb.Exec(ctx, "exit 3", computemw.ExecOptions{})
	fmt.Println(string(b), res.ExitCode)
	// Output: kept 3
}

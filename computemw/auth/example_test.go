package auth_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/auth"
	"github.com/computemw/kit/computemw/fakeprovider"
	"github.com/computemw/kit/computemw/rbac"
)

// Authentication first, then roles: a caller with an API key runs code,
// one without gets 401 and creates nothing.
func ExampleNew() {
	authn, err := auth.New(auth.Config{APIKeys: map[string]computemw.Principal{
		auth.HashAPIKey("ci-key-0123456789"): {ID: "ci", Role: "user", Plan: "pro"},
	}})
	if err != nil {
		panic(err)
	}
	defer authn.Close(context.Background())
	roles, _ := rbac.New(rbac.Config{})
	kit, _ := computemw.New(computemw.Config{
		Providers: []computemw.Provider{fakeprovider.New("fake")},
		Policies:  []computemw.Policy{authn, roles},
	})
	defer kit.Close(context.Background())

	for _, h := range []http.Header{{"X-Api-Key": {"ci-key-0123456789"}}, {}} {
		ctx, err := kit.Admit(context.Background(), computemw.OpExec, &computemw.Request{Header: h})
		if err != nil {
			fmt.Println(computemw.StatusOf(err))
			continue
		}
		res, err := kit.Execute(ctx, computemw.Run{Command: "echo hello"})
		fmt.Print(res.Stdout, err, "\n")
	}
	// Output:
	// hello
	// <nil>
	// 401
}

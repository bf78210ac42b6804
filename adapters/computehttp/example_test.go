package computehttp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/fakeprovider"
	"github.com/computemw/kit/computemw/httpapi"
)

// Mount the route group under /api and a handler of your own behind the
// sandbox middleware. (A real app passes local.New(local.Config{}) or a
// remote provider; the fake provider keeps the example self-contained.)
func ExampleMount() {
	kit, _ := computemw.New(computemw.Config{Providers: []computemw.Provider{fakeprovider.New("fake")}})
	defer kit.Close(context.Background())

	mux := http.NewServeMux()
	computehttp.Mount(mux, "/api", kit)
	mux.Handle("POST /run", computehttp.Middleware(kit)(computehttp.Handle(kit, func(w http.ResponseWriter, r *http.Request) error {
		res, err := computehttp.Sandbox(r).Exec(r.Context(), "echo from my handler", computemw.ExecOptions{})
		if err != nil {
			return err
		}
		_, err = fmt.Fprint(w, res.Stdout)
		return err
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, _ := http.Post(srv.URL+"/api/execute", "application/json", strings.NewReader(`{"language":"python","code":"echo 4"}`))
	var body httpapi.ExecutionResponse
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	fmt.Printf("%d success=%t output=%q\n", resp.StatusCode, body.Success, body.Output)

	resp, _ = http.Post(srv.URL+"/api/execute", "application/json", strings.NewReader(`{"language":"python"}`))
	var e httpapi.ErrorBody
	json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, e.Code, e.Error)

	resp, _ = http.Post(srv.URL+"/run", "text/plain", nil)
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Printf("%d %s", resp.StatusCode, out)
	// Output:
	// 200 success=true output="4\n"
	// 400 BAD_REQUEST field "code" is required
	// 200 from my handler
}

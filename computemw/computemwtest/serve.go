package computemwtest

import (
	"context"
	"net/http"
	"strings"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/httpapi"
)

// RouteOf returns the kit's route at path ("/exec"), or panics: tests and
// benchmarks that drive the kit without HTTP look routes up once.
func RouteOf(kit *computemw.Kit, path string) httpapi.Route {
	api := httpapi.New(kit)
	for _, rt := range api.Routes() {
		if rt.Path == path {
			return rt
		}
	}
	panic("computemwtest: no route " + path)
}

// ServePath serves one request on the kit's route at path through
// [httpapi.API.ServeRoute], as an adapter would, and returns the
// response. ctx may carry a principal ([computemw.WithPrincipal]). A
// non-empty body is sent as application/json unless header says
// otherwise, as clients of the JSON routes do.
func ServePath(ctx context.Context, kit *computemw.Kit, method, path, body string, header http.Header) *httpapi.Response {
	api := httpapi.New(kit)
	header = header.Clone()
	if header == nil {
		header = http.Header{}
	}
	if body != "" && header.Get("Content-Type") == "" {
		header.Set("Content-Type", "application/json")
	}
	return api.ServeRoute(ctx, RouteOf(kit, path), &computemw.Request{
		Method: method, Header: header, Body: strings.NewReader(body), RemoteAddr: "127.0.0.1:40000",
	})
}

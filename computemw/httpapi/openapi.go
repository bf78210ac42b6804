package httpapi

import (
	"context"
	_ "embed"
	"net/http"

	"github.com/computemw/kit/computemw"
)

// openAPIDocument is the OpenAPI 3.1 document of the HTTP contract. A test
// validates every response of the adapter suite, on every framework,
// against it.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPI returns the OpenAPI 3.1 document (JSON) of the route group's HTTP
// contract: every route, body, status, error body and header. Its server
// URL is the prefix "/api" by default; set the "prefix" server variable to
// where the application mounts the group. The returned slice is a copy.
func OpenAPI() []byte { return append([]byte(nil), openAPIDocument...) }

// handleOpenAPI serves GET /openapi.json.
func (k *API) handleOpenAPI(context.Context, *computemw.Request) (*Response, error) {
	h := make(http.Header, 2)
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-cache")
	return &Response{Status: http.StatusOK, Header: h, Body: openAPIDocument}, nil
}

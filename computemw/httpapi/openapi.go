package httpapi

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

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
// where the application mounts the group. (GET /openapi.json names the
// prefix it was served under instead.) The returned slice is a copy.
func OpenAPI() []byte { return append([]byte(nil), openAPIDocument...) }

// handleOpenAPI serves GET /openapi.json, naming as its server the prefix
// it was served under (the request's path less /openapi.json) when the
// adapter gives the path.
func (k *API) handleOpenAPI(_ context.Context, r *computemw.Request) (*Response, error) {
	h := make(http.Header, 2)
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-cache")
	body := openAPIDocument
	if prefix, ok := strings.CutSuffix(r.Path, "/openapi.json"); ok {
		b, err := openAPIServedAt(prefix)
		if err != nil {
			return nil, err
		}
		body = b
	}
	return &Response{Status: http.StatusOK, Header: h, Body: body}, nil
}

// openAPIServedAt is the document with prefix as its one server.
func openAPIServedAt(prefix string) ([]byte, error) {
	if prefix == "" {
		prefix = "/"
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		return nil, fmt.Errorf("computemw: the OpenAPI document: %w", err)
	}
	servers, err := json.Marshal([]map[string]string{{
		"url":         prefix,
		"description": "Where this document was served: the route group's prefix.",
	}})
	if err != nil {
		return nil, err
	}
	doc["servers"] = servers
	return json.MarshalIndent(doc, "", "  ")
}

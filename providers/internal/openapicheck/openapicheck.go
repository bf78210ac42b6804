// Package openapicheck holds the providers' contract fakes to a vendor's
// published API description: each request is matched to an operation and
// validated, and each answer checked against what that operation
// declares. The description is made strict first: an object schema that
// lists its properties and says nothing of others refuses unknown fields,
// and a query parameter an operation does not declare is refused.
package openapicheck

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// Spec is one API description, made strict, ready to check exchanges.
type Spec struct {
	// Doc is the loaded description.
	Doc    *openapi3.T
	router routers.Router
	name   func(*routers.Route) string
}

// Load reads an OpenAPI 3 description (or a Swagger 2.0 one converted to
// it) and makes it strict. name gives an operation's name in errors and
// in Match.Op (its operation ID, or "METHOD /path").
func Load(data []byte, name func(*routers.Route) string) (*Spec, error) {
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		return nil, err
	}
	doc.Servers = nil // requests are matched on their path, whatever the host
	seen := map[*openapi3.Schema]bool{}
	for _, s := range doc.Components.Schemas {
		strict(s, seen)
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				for _, mt := range op.RequestBody.Value.Content {
					strict(mt.Schema, seen)
				}
			}
			if op.Responses != nil {
				for _, resp := range op.Responses.Map() {
					if resp.Value != nil {
						for _, mt := range resp.Value.Content {
							strict(mt.Schema, seen)
						}
					}
				}
			}
		}
	}
	r, err := legacy.NewRouter(doc, openapi3.DisableExamplesValidation(), openapi3.DisableSchemaDefaultsValidation())
	if err != nil {
		return nil, err
	}
	return &Spec{Doc: doc, router: r, name: name}, nil
}

// ByOperationID names an operation by its operation ID.
func ByOperationID(r *routers.Route) string { return r.Operation.OperationID }

// ByPath names an operation "METHOD /path", as the description writes it.
func ByPath(r *routers.Route) string { return r.Method + " " + r.Path }

// strict refuses unknown fields in every object schema that lists its
// properties and says nothing of others.
func strict(ref *openapi3.SchemaRef, seen map[*openapi3.Schema]bool) {
	if ref == nil || ref.Value == nil || seen[ref.Value] {
		return
	}
	s := ref.Value
	seen[s] = true
	if len(s.Properties) > 0 && s.AdditionalProperties.Has == nil && s.AdditionalProperties.Schema == nil {
		no := false
		s.AdditionalProperties.Has = &no
	}
	for _, p := range s.Properties {
		strict(p, seen)
	}
	strict(s.Items, seen)
	strict(s.AdditionalProperties.Schema, seen)
	for _, l := range [][]*openapi3.SchemaRef{s.AllOf, s.AnyOf, s.OneOf} {
		for _, x := range l {
			strict(x, seen)
		}
	}
}

// Match is a request matched to an operation of a Spec.
type Match struct {
	// Op is the operation's name; Route and Params its route and path
	// parameters.
	Op     string
	Route  *routers.Route
	Params map[string]string
	req    *http.Request
}

// CheckRequest matches a request to an operation and validates it. path
// is the path to match (the request's, or what is left after a fake's
// prefix); body is the request's body, already read. A request that
// matches an operation but breaks it returns the Match with the error.
func (s *Spec) CheckRequest(r *http.Request, path string, body []byte) (*Match, error) {
	req := r.Clone(context.Background())
	req.URL.Path = path
	req.URL.RawPath = ""
	req.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s is not in the spec: %w", r.Method, path, err)
	}
	m := &Match{Op: s.name(route), Route: route, Params: params, req: req}
	declared := map[string]bool{}
	for _, l := range []openapi3.Parameters{route.PathItem.Parameters, route.Operation.Parameters} {
		for _, prm := range l {
			if prm.Value != nil && prm.Value.In == "query" {
				declared[prm.Value.Name] = true
			}
		}
	}
	for k := range req.URL.Query() {
		if !declared[k] {
			return m, fmt.Errorf("%s: query parameter %q is not in the spec", m.Op, k)
		}
	}
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		return m, fmt.Errorf("%s: %s", m.Op, OneLine(err))
	}
	return m, nil
}

// Declared returns what the operation declares for status, or nil.
func (m *Match) Declared(status int) *openapi3.Response {
	if r := m.Route.Operation.Responses.Status(status); r != nil {
		return r.Value
	}
	return nil
}

// CheckAnswer validates an answer to the matched request against what
// its operation declares for status: headers and, unless complete is
// false (a body too large to keep whole), the body.
func (m *Match) CheckAnswer(status int, header http.Header, body []byte, complete bool) error {
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: m.req, PathParams: m.Params, Route: m.Route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status: status, Header: header,
		Options: &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true, ExcludeResponseBody: !complete},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return fmt.Errorf("%s: answer %d: %s", m.Op, status, OneLine(err))
	}
	return nil
}

// OneLine is err's message on one line, cut at 600 bytes.
func OneLine(err error) string {
	s := strings.ReplaceAll(err.Error(), "\n", " ")
	if len(s) > 600 {
		s = s[:600] + "..."
	}
	return s
}

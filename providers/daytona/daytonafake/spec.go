package daytonafake

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/computemw/kit/providers/daytona/internal/spec"
)

// validator checks requests against one of the vendor's API descriptions,
// made strict: an object schema with properties and no
// additionalProperties refuses unknown fields, and a query parameter the
// operation does not declare is refused too.
type validator struct {
	router routers.Router
}

var (
	loadOnce sync.Once
	cpV, tbV *validator
	loadErr  error
)

func validators() (*validator, *validator, error) {
	loadOnce.Do(func() {
		if cpV, loadErr = newValidator(spec.ControlPlane); loadErr != nil {
			loadErr = fmt.Errorf("control-plane spec: %w", loadErr)
			return
		}
		if tbV, loadErr = newValidator(spec.Toolbox); loadErr != nil {
			loadErr = fmt.Errorf("toolbox spec: %w", loadErr)
		}
	})
	return cpV, tbV, loadErr
}

func newValidator(data []byte) (*validator, error) {
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		return nil, err
	}
	doc.Servers = nil // requests are matched on the path after the fake's prefix
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
		}
	}
	r, err := legacy.NewRouter(doc, openapi3.DisableExamplesValidation(), openapi3.DisableSchemaDefaultsValidation())
	if err != nil {
		return nil, err
	}
	return &validator{router: r}, nil
}

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

// check validates a request whose path has had the fake's prefix taken
// off; body is the request's body, already read. It returns the route's
// operation ID and path parameters.
func (v *validator) check(r *http.Request, p string, body []byte) (string, map[string]string, error) {
	req := r.Clone(context.Background())
	req.URL.Path = p
	req.URL.RawPath = ""
	req.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		return "", nil, fmt.Errorf("%s %s is not in the spec: %w", r.Method, p, err)
	}
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
			return route.Operation.OperationID, params, fmt.Errorf("%s: query parameter %q is not in the spec", route.Operation.OperationID, k)
		}
	}
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		return route.Operation.OperationID, params, fmt.Errorf("%s: %s", route.Operation.OperationID, oneLine(err))
	}
	return route.Operation.OperationID, params, nil
}

func oneLine(err error) string {
	s := strings.ReplaceAll(err.Error(), "\n", " ")
	if len(s) > 600 {
		s = s[:600] + "..."
	}
	return s
}

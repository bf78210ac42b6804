package e2bfake

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// The vendor's REST API descriptions, as published.
var (
	//go:embed specs/openapi.yml
	controlPlaneSpec []byte
	//go:embed specs/envd.yaml
	envdSpec []byte
)

// validator checks requests against one of the vendor's API descriptions,
// made strict: an object schema with properties and no
// additionalProperties refuses unknown fields, and a query parameter the
// operation does not declare is refused too.
type validator struct {
	router routers.Router
}

var (
	loadOnce     sync.Once
	apiV, envdV  *validator
	loadSpecsErr error
)

// validators loads the control plane's and envd's descriptions once.
func validators() (api, envd *validator, err error) {
	loadOnce.Do(func() {
		if apiV, loadSpecsErr = newValidator(controlPlaneSpec); loadSpecsErr != nil {
			loadSpecsErr = fmt.Errorf("control-plane spec: %w", loadSpecsErr)
			return
		}
		if envdV, loadSpecsErr = newValidator(envdSpec); loadSpecsErr != nil {
			loadSpecsErr = fmt.Errorf("envd spec: %w", loadSpecsErr)
		}
	})
	return apiV, envdV, loadSpecsErr
}

func newValidator(data []byte) (*validator, error) {
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
		}
	}
	r, err := legacy.NewRouter(doc, openapi3.DisableExamplesValidation(), openapi3.DisableSchemaDefaultsValidation())
	if err != nil {
		return nil, err
	}
	return &validator{router: r}, nil
}

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

// check validates a request, whose body has already been read, and
// returns the operation it matched ("METHOD /path" of the description).
func (v *validator) check(r *http.Request, body []byte) (string, error) {
	req := r.Clone(context.Background())
	req.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		return "", fmt.Errorf("%s %s is not in the spec: %w", r.Method, r.URL.Path, err)
	}
	op := route.Method + " " + route.Path
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
			return op, fmt.Errorf("%s: query parameter %q is not in the spec", op, k)
		}
	}
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		return op, fmt.Errorf("%s: %s", op, oneLine(err))
	}
	return op, nil
}

func oneLine(err error) string {
	s := strings.ReplaceAll(err.Error(), "\n", " ")
	if len(s) > 600 {
		s = s[:600] + "..."
	}
	return s
}

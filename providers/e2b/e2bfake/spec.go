package e2bfake

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
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
	// errSchema is the description's Error schema, the body of an error
	// answer.
	errSchema *openapi3.Schema
}

// matched is a request the validator matched to an operation, kept to
// check the answer against what the operation declares.
type matched struct {
	req    *http.Request
	route  *routers.Route
	params map[string]string
	v      *validator
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
	v := &validator{router: r}
	if e := doc.Components.Schemas["Error"]; e != nil {
		v.errSchema = e.Value
	}
	if v.errSchema == nil {
		return nil, fmt.Errorf("no Error schema")
	}
	return v, nil
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
func (v *validator) check(r *http.Request, body []byte) (string, *matched, error) {
	req := r.Clone(context.Background())
	req.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		return "", nil, fmt.Errorf("%s %s is not in the spec: %w", r.Method, r.URL.Path, err)
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
			return op, nil, fmt.Errorf("%s: query parameter %q is not in the spec", op, k)
		}
	}
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		return op, nil, fmt.Errorf("%s: %s", op, oneLine(err))
	}
	return op, &matched{req: req, route: route, params: params, v: v}, nil
}

// checkAnswer validates the fake's answer to a matched request: its
// status must be one the operation declares, and its headers and body
// what the description gives for that status. An error status the
// operation does not declare is allowed only for an injected fault (the
// vendor's service may answer anything), and its body must still be the
// description's Error. complete is false when the body was too large to
// keep whole, and is then not checked.
func (m *matched) checkAnswer(status int, header http.Header, body []byte, complete, injected bool) error {
	op := m.route.Method + " " + m.route.Path
	declared := m.route.Operation.Responses.Status(status)
	if declared == nil || declared.Value == nil {
		switch {
		case injected && status < 400:
			return nil
		case !injected:
			return fmt.Errorf("%s: answered %d, which the spec does not declare", op, status)
		}
		return m.v.errorShape(op, status, body)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: m.req, PathParams: m.params, Route: m.route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status: status, Header: header,
		Options: &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true, ExcludeResponseBody: !complete},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return fmt.Errorf("%s: answer %d: %s", op, status, oneLine(err))
	}
	return nil
}

// errorShape checks an error answer's body against the description's
// Error schema (code and message; no other field), and that its code is
// the answer's status.
func (v *validator) errorShape(op string, status int, body []byte) error {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return fmt.Errorf("%s: error answer %d is not a JSON object: %v", op, status, err)
	}
	if err := v.errSchema.VisitJSON(m); err != nil {
		return fmt.Errorf("%s: error answer %d is not the spec's Error: %s", op, status, oneLine(err))
	}
	if c, _ := m["code"].(float64); int(c) != status {
		return fmt.Errorf("%s: error answer %d has code %v", op, status, m["code"])
	}
	return nil
}

func oneLine(err error) string {
	s := strings.ReplaceAll(err.Error(), "\n", " ")
	if len(s) > 600 {
		s = s[:600] + "..."
	}
	return s
}

package daytonafake

import (
	"bytes"
	"context"
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
	op, params, _, err := v.checkRoute(r, p, body)
	return op, params, err
}

// checkRoute is check that also returns the route, for the check of the
// answer.
func (v *validator) checkRoute(r *http.Request, p string, body []byte) (string, map[string]string, *routers.Route, error) {
	req := r.Clone(context.Background())
	req.URL.Path = p
	req.URL.RawPath = ""
	req.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		return "", nil, nil, fmt.Errorf("%s %s is not in the spec: %w", r.Method, p, err)
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
			return route.Operation.OperationID, params, route, fmt.Errorf("%s: query parameter %q is not in the spec", route.Operation.OperationID, k)
		}
	}
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		return route.Operation.OperationID, params, route, fmt.Errorf("%s: %s", route.Operation.OperationID, oneLine(err))
	}
	return route.Operation.OperationID, params, route, nil
}

func oneLine(err error) string {
	s := strings.ReplaceAll(err.Error(), "\n", " ")
	if len(s) > 600 {
		s = s[:600] + "..."
	}
	return s
}

// checkResponse validates an answer to a request that matched route: a
// status the operation declares must carry a body its schema allows (made
// strict like the requests'); a text/plain answer is checked only for
// being declared, as the Swagger 2.0 toolbox spec gives all its media
// types one schema. A status it does not declare, which the specs do for
// no error, must be an error in the vendor's shape (see writeErr).
func checkResponse(route *routers.Route, req *http.Request, params map[string]string, toolbox bool, status int, header http.Header, body []byte) error {
	op := route.Operation.OperationID
	declared := route.Operation.Responses.Status(status)
	if declared == nil || declared.Value == nil {
		if status < 400 {
			return fmt.Errorf("%s: answered %d, which the spec does not declare", op, status)
		}
		return errorShape(op, toolbox, status, body)
	}
	ct := header.Get("Content-Type")
	if strings.HasPrefix(ct, "text/plain") {
		if declared.Value.Content.Get("text/plain") == nil {
			return fmt.Errorf("%s: answered text/plain, which the spec does not declare", op)
		}
		return nil
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status: status, Header: header,
		Options: &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return fmt.Errorf("%s: answer %d: %s", op, status, oneLine(err))
	}
	return nil
}

// errorShape checks an error answer against the vendor's error bodies.
func errorShape(op string, toolbox bool, status int, body []byte) error {
	want := []string{"path", "timestamp", "statusCode", "error", "message"}
	if toolbox {
		want = []string{"statusCode", "message", "code", "timestamp", "path", "method"}
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return fmt.Errorf("%s: error answer %d is not a JSON object: %v", op, status, err)
	}
	for _, k := range want {
		if _, ok := m[k]; !ok {
			return fmt.Errorf("%s: error answer %d has no %q", op, status, k)
		}
	}
	if len(m) != len(want) {
		return fmt.Errorf("%s: error answer %d has fields beyond %v", op, status, want)
	}
	if code, _ := m["statusCode"].(float64); int(code) != status {
		return fmt.Errorf("%s: error answer %d says statusCode %v", op, status, m["statusCode"])
	}
	return nil
}

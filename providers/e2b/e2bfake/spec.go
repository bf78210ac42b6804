package e2bfake

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/computemw/kit/providers/internal/openapicheck"
)

// The vendor's REST API descriptions, as published.
var (
	//go:embed specs/openapi.yml
	controlPlaneSpec []byte
	//go:embed specs/envd.yaml
	envdSpec []byte
)

// validator checks exchanges against one of the vendor's API
// descriptions, made strict (see openapicheck).
type validator struct {
	spec *openapicheck.Spec
	// errSchema is the description's Error schema, the body of an error
	// answer.
	errSchema *openapi3.Schema
}

// matched is a request the validator matched to an operation, kept to
// check the answer against what the operation declares.
type matched struct {
	m *openapicheck.Match
	v *validator
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
	spec, err := openapicheck.Load(data, openapicheck.ByPath)
	if err != nil {
		return nil, err
	}
	v := &validator{spec: spec}
	if e := spec.Doc.Components.Schemas["Error"]; e != nil {
		v.errSchema = e.Value
	}
	if v.errSchema == nil {
		return nil, fmt.Errorf("no Error schema")
	}
	return v, nil
}

// check validates a request, whose body has already been read, and
// returns the operation it matched ("METHOD /path" of the description).
func (v *validator) check(r *http.Request, body []byte) (string, *matched, error) {
	m, err := v.spec.CheckRequest(r, r.URL.Path, body)
	switch {
	case m == nil:
		return "", nil, err
	case err != nil:
		return m.Op, nil, err
	}
	return m.Op, &matched{m: m, v: v}, nil
}

// checkAnswer validates the fake's answer to a matched request: its
// status must be one the operation declares, and its headers and body
// what the description gives for that status. An error status the
// operation does not declare is allowed only for an injected fault (the
// vendor's service may answer anything), and its body must still be the
// description's Error. complete is false when the body was too large to
// keep whole, and is then not checked.
func (m *matched) checkAnswer(status int, header http.Header, body []byte, complete, injected bool) error {
	op := m.m.Op
	if m.m.Declared(status) == nil {
		switch {
		case injected && status < 400:
			return nil
		case !injected:
			return fmt.Errorf("%s: answered %d, which the spec does not declare", op, status)
		}
		return m.v.errorShape(op, status, body)
	}
	return m.m.CheckAnswer(status, header, body, complete)
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

func oneLine(err error) string { return openapicheck.OneLine(err) }

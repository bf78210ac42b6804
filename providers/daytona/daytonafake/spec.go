package daytonafake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/computemw/kit/providers/daytona/internal/spec"
	"github.com/computemw/kit/providers/internal/openapicheck"
)

// validator checks exchanges against one of the vendor's API
// descriptions, made strict (see openapicheck).
type validator struct {
	spec *openapicheck.Spec
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
	s, err := openapicheck.Load(data, openapicheck.ByOperationID)
	if err != nil {
		return nil, err
	}
	return &validator{spec: s}, nil
}

// check validates a request whose path has had the fake's prefix taken
// off; body is the request's body, already read. It returns the route's
// operation ID and path parameters.
func (v *validator) check(r *http.Request, p string, body []byte) (string, map[string]string, error) {
	op, params, _, err := v.checkRoute(r, p, body)
	return op, params, err
}

// checkRoute is check that also returns the match, for the check of the
// answer.
func (v *validator) checkRoute(r *http.Request, p string, body []byte) (string, map[string]string, *openapicheck.Match, error) {
	m, err := v.spec.CheckRequest(r, p, body)
	if m == nil {
		return "", nil, nil, err
	}
	return m.Op, m.Params, m, err
}

// checkResponse validates an answer to a request that matched route: a
// status the operation declares must carry a body its schema allows (made
// strict like the requests'); a text/plain answer is checked only for
// being declared, as the Swagger 2.0 toolbox spec gives all its media
// types one schema. A status it does not declare, which the specs do for
// no error, must be an error in the vendor's shape (see writeErr).
func checkResponse(m *openapicheck.Match, toolbox bool, status int, header http.Header, body []byte) error {
	op := m.Op
	declared := m.Declared(status)
	if declared == nil {
		if status < 400 {
			return fmt.Errorf("%s: answered %d, which the spec does not declare", op, status)
		}
		return errorShape(op, toolbox, status, body)
	}
	ct := header.Get("Content-Type")
	if strings.HasPrefix(ct, "text/plain") {
		if declared.Content.Get("text/plain") == nil {
			return fmt.Errorf("%s: answered text/plain, which the spec does not declare", op)
		}
		return nil
	}
	return m.CheckAnswer(status, header, body, true)
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

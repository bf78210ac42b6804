package vercelfake

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/computemw/kit/providers/internal/fakekit"
	"github.com/computemw/kit/providers/internal/openapicheck"
	vspec "github.com/computemw/kit/providers/vercel/internal/spec"
)

var (
	specOnce sync.Once
	spec     *openapicheck.Spec
	specErr  error
)

// loadSpec loads the API description, made strict by openapicheck, and
// teaches the checker the two media types it does not know: a gzipped tar
// (the body of fs/write, checked as bytes) and application/x-ndjson (a
// stream of JSON lines, checked as the array of its lines).
func loadSpec() (*openapicheck.Spec, error) {
	specOnce.Do(func() {
		openapi3filter.RegisterBodyDecoder("application/gzip", openapi3filter.FileBodyDecoder)
		openapi3filter.RegisterBodyDecoder("application/x-ndjson", ndjsonDecoder)
		spec, specErr = openapicheck.Load(vspec.OpenAPI, openapicheck.ByOperationID)
	})
	return spec, specErr
}

// ndjsonDecoder decodes a stream of JSON lines into the array of its
// values.
func ndjsonDecoder(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 8<<20)
	lines := []any{}
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var v any
		if err := json.Unmarshal(line, &v); err != nil {
			return nil, fmt.Errorf("ndjson line %d: %w", len(lines)+1, err)
		}
		lines = append(lines, v)
	}
	return lines, sc.Err()
}

// record checks an answer against the description and keeps the
// exchange; a problem fails the test. An answer an injected fault shaped
// (a reset, a redirect, a cut stream) is checked only when it is an error,
// for the vendor's error shape.
func (s *Server) record(w *fakekit.Recorder, r *http.Request, c *checked) {
	ex := Exchange{Op: c.op, Method: r.Method, Path: r.URL.Path, Status: w.Status, Faulted: c.faulted, Problem: c.problem}
	if w.Hijacked {
		ex.Status = 0
	}
	check := ex.Problem == "" && c.match != nil && ex.Status != 0 && !w.Overflow &&
		(!c.faulted || ex.Status >= 400)
	if check {
		if err := c.match.CheckAnswer(ex.Status, w.Header(), w.Body.Bytes(), true); err != nil {
			ex.Problem = err.Error()
			s.t.Errorf("vercelfake: answer not valid against the API description: %v", err)
		} else {
			ex.Checked = true
		}
	}
	s.mu.Lock()
	s.exchanges = append(s.exchanges, ex)
	s.mu.Unlock()
}

package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/computemw/kit/computemw"
)

// ExecuteRequest is the body of POST /execute.
type ExecuteRequest struct {
	Code      string            `json:"code"`
	Language  string            `json:"language"`
	Provider  string            `json:"provider,omitempty"`
	Timeout   *float64          `json:"timeout,omitempty"` // milliseconds
	Stdin     string            `json:"stdin,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
	Args      []string          `json:"args,omitempty"`
	Files     []FileSpec        `json:"files,omitempty"`
	SandboxID string            `json:"sandboxId,omitempty"`
	// Version picks one of the language's installed versions (GET
	// /languages lists them); CompileOptions adds allowed compiler flags;
	// CompileTimeout (ms) gives the compile a limit of its own, the run
	// then having the whole Timeout.
	Version        string   `json:"version,omitempty"`
	CompileOptions []string `json:"compileOptions,omitempty"`
	CompileTimeout *float64 `json:"compileTimeout,omitempty"` // milliseconds
	// MergeStderr sends stderr into output, interleaved as written.
	MergeStderr bool `json:"mergeStderr,omitempty"`
}

// FileSpec is a file written into the sandbox before code runs.
type FileSpec struct {
	Path     string `json:"path"`
	Content  string `json:"content"`
	Encoding string `json:"encoding,omitempty"` // utf8 (default) or base64
}

// ExecRequest is the body of POST /exec.
type ExecRequest struct {
	Command   string            `json:"command"`
	Cwd       string            `json:"cwd,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
	Timeout   *float64          `json:"timeout,omitempty"` // milliseconds
	Stdin     string            `json:"stdin,omitempty"`
	Provider  string            `json:"provider,omitempty"`
	SandboxID string            `json:"sandboxId,omitempty"`
	// MergeStderr sends stderr into output, interleaved as written.
	MergeStderr bool `json:"mergeStderr,omitempty"`
}

// FilesRequest is the body of POST /files.
type FilesRequest struct {
	Action    string `json:"action"`
	Path      string `json:"path"`
	Content   string `json:"content,omitempty"`
	Encoding  string `json:"encoding,omitempty"` // utf8 (default) or base64
	Provider  string `json:"provider,omitempty"`
	SandboxID string `json:"sandboxId,omitempty"`
}

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Error     string         `json:"error"`
	Code      computemw.Code `json:"code"`
	Details   any            `json:"details,omitempty"`
	RequestID string         `json:"requestId,omitempty"`
}

// ProblemBody is the RFC 9457 form of ErrorBody, sent to clients that
// accept application/problem+json.
type ProblemBody struct {
	Type      string         `json:"type"`
	Title     string         `json:"title"`
	Status    int            `json:"status"`
	Detail    string         `json:"detail"`
	Code      computemw.Code `json:"code"`
	Details   any            `json:"details,omitempty"`
	RequestID string         `json:"requestId,omitempty"`
}

// FileContent is the body of a files read.
type FileContent struct {
	Content  string `json:"content"`
	Encoding string `json:"encoding"`
}

// FileList is the body of a files list.
type FileList struct {
	Files []computemw.FileInfo `json:"files"`
}

// DecodeJSON reads one JSON value from r into v, reading at most limit
// bytes. It returns 413 PAYLOAD_TOO_LARGE past the limit and 400
// BAD_REQUEST for an empty body, malformed JSON, a wrong field type,
// trailing data or an unknown field (named in the message and in details
// as {"field": name}). [API.DecodeJSON] ignores unknown fields when the
// kit's Config.AllowUnknownFields says so.
func DecodeJSON(r io.Reader, limit int64, v any) error {
	return decodeJSON(r, limit, v, true)
}

// DecodeJSON is the package's [DecodeJSON] in the kit's mode: with
// Config.AllowUnknownFields, unknown fields are ignored.
func (k *API) DecodeJSON(r io.Reader, limit int64, v any) error {
	return decodeJSON(r, limit, v, !k.cfg.AllowUnknownFields)
}

func decodeJSON(r io.Reader, limit int64, v any, strict bool) error {
	if r == nil {
		return computemw.Errorf(computemw.CodeBadRequest, "request body is empty")
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &computemw.Error{Code: computemw.CodePayloadTooLarge, Message: fmt.Sprintf("request body exceeds %d bytes", limit)}
		}
		return computemw.Errorf(computemw.CodeBadRequest, "reading request body: %w", err)
	}
	if int64(len(data)) > limit {
		return &computemw.Error{Code: computemw.CodePayloadTooLarge, Message: fmt.Sprintf("request body exceeds %d bytes", limit)}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return computemw.Errorf(computemw.CodeBadRequest, "request body is empty")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return computemw.Errorf(computemw.CodeBadRequest, "malformed JSON: unexpected data after the top-level value")
	}
	return nil
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return computemw.Errorf(computemw.CodeBadRequest, "malformed JSON at byte %d: %s", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		if typ.Field == "" {
			return computemw.Errorf(computemw.CodeBadRequest, "request body must be a JSON object, not %s", typ.Value)
		}
		return computemw.Errorf(computemw.CodeBadRequest, "field %q must be %s, not %s", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value)
	case strings.HasPrefix(err.Error(), unknownFieldPrefix):
		return unknownField(err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return computemw.Errorf(computemw.CodeBadRequest, "malformed JSON: unexpected end of input")
	default:
		return computemw.Errorf(computemw.CodeBadRequest, "malformed JSON: %s", err.Error())
	}
}

// unknownFieldPrefix starts encoding/json's error for a field that v does
// not have (the package has no type for it).
const unknownFieldPrefix = "json: unknown field "

// unknownField is the 400 for a field the kit does not know, naming it.
func unknownField(err error) error {
	name := strings.TrimPrefix(err.Error(), unknownFieldPrefix)
	if n, uerr := strconv.Unquote(name); uerr == nil {
		name = n
	}
	name = truncate(name, 64)
	return &computemw.Error{Code: computemw.CodeBadRequest, Message: fmt.Sprintf("unknown field %q", name),
		Details: map[string]string{"field": name}, Err: err}
}

func jsonKind(k string) string {
	switch k {
	case "float64", "float32", "int", "int64":
		return "a number"
	case "string":
		return "a string"
	case "map":
		return "an object"
	case "slice":
		return "an array"
	case "bool":
		return "a boolean"
	default:
		return k
	}
}

// timeoutFrom converts a request's timeout in milliseconds, applying the
// kit's default and maximum.
func (k *API) timeoutFrom(ms *float64) (time.Duration, error) {
	if ms == nil {
		return k.cfg.DefaultTimeout, nil
	}
	v := *ms
	if math.IsNaN(v) || v <= 0 {
		return 0, computemw.Errorf(computemw.CodeBadRequest, "field \"timeout\" must be a positive number of milliseconds")
	}
	max := k.cfg.MaxTimeout
	if v > float64(max/time.Millisecond) {
		return 0, computemw.Errorf(computemw.CodeBadRequest, "field \"timeout\" exceeds the maximum of %d ms", max/time.Millisecond)
	}
	return time.Duration(v * float64(time.Millisecond)), nil
}

// compileTimeoutFrom converts a request's compileTimeout in milliseconds:
// zero when absent (the compile counts within the timeout), else a
// positive number up to the kit's maximum timeout.
func (k *API) compileTimeoutFrom(ms *float64) (time.Duration, error) {
	if ms == nil {
		return 0, nil
	}
	v := *ms
	if math.IsNaN(v) || v <= 0 {
		return 0, computemw.Errorf(computemw.CodeBadRequest, "field \"compileTimeout\" must be a positive number of milliseconds")
	}
	if max := k.cfg.MaxTimeout; v > float64(max/time.Millisecond) {
		return 0, computemw.Errorf(computemw.CodeBadRequest, "field \"compileTimeout\" exceeds the maximum of %d ms", max/time.Millisecond)
	}
	return time.Duration(v * float64(time.Millisecond)), nil
}

package computemw

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"
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

// ExecutionResponse is the 200 body of /execute and /exec.
type ExecutionResponse struct {
	Success       bool   `json:"success"`
	Output        string `json:"output"`
	Stderr        string `json:"stderr"`
	CompileOutput string `json:"compileOutput,omitempty"`
	ExitCode      int    `json:"exitCode"`
	ExecutionTime int64  `json:"executionTime"` // milliseconds
	CPUTime       int64  `json:"cpuTime"`       // milliseconds
	PeakMemory    int64  `json:"peakMemory"`    // bytes
	SandboxID     string `json:"sandboxId"`
	Provider      string `json:"provider"`
	Truncated     bool   `json:"truncated"`
}

// PartialOutput is the Details of a TIMEOUT or RESOURCE_ERROR: what the
// program printed before it was stopped.
type PartialOutput struct {
	Output    string `json:"output"`
	Stderr    string `json:"stderr"`
	Truncated bool   `json:"truncated"`
}

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Error     string `json:"error"`
	Code      Code   `json:"code"`
	Details   any    `json:"details,omitempty"`
	RequestID string `json:"requestId,omitempty"`
}

// ProblemBody is the RFC 9457 form of ErrorBody, sent to clients that
// accept application/problem+json.
type ProblemBody struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Code      Code   `json:"code"`
	Details   any    `json:"details,omitempty"`
	RequestID string `json:"requestId,omitempty"`
}

// FileContent is the body of a files read.
type FileContent struct {
	Content  string `json:"content"`
	Encoding string `json:"encoding"`
}

// FileList is the body of a files list.
type FileList struct {
	Files []FileInfo `json:"files"`
}

// DecodeJSON reads one JSON value from r into v, reading at most limit
// bytes. It returns 413 PAYLOAD_TOO_LARGE past the limit and 400
// BAD_REQUEST for an empty body, malformed JSON, a wrong field type or
// trailing data. Unknown fields are ignored.
func DecodeJSON(r io.Reader, limit int64, v any) error {
	if r == nil {
		return Errorf(CodeBadRequest, "request body is empty")
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &Error{Code: CodePayloadTooLarge, Message: fmt.Sprintf("request body exceeds %d bytes", limit)}
		}
		return Errorf(CodeBadRequest, "reading request body: %w", err)
	}
	if int64(len(data)) > limit {
		return &Error{Code: CodePayloadTooLarge, Message: fmt.Sprintf("request body exceeds %d bytes", limit)}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return Errorf(CodeBadRequest, "request body is empty")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Errorf(CodeBadRequest, "malformed JSON: unexpected data after the top-level value")
	}
	return nil
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return Errorf(CodeBadRequest, "malformed JSON at byte %d: %s", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		if typ.Field == "" {
			return Errorf(CodeBadRequest, "request body must be a JSON object, not %s", typ.Value)
		}
		return Errorf(CodeBadRequest, "field %q must be %s, not %s", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return Errorf(CodeBadRequest, "malformed JSON: unexpected end of input")
	default:
		return Errorf(CodeBadRequest, "malformed JSON: %s", err.Error())
	}
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
func (k *Kit) timeoutFrom(ms *float64) (time.Duration, error) {
	if ms == nil {
		return k.cfg.DefaultTimeout, nil
	}
	v := *ms
	if math.IsNaN(v) || v <= 0 {
		return 0, Errorf(CodeBadRequest, "field \"timeout\" must be a positive number of milliseconds")
	}
	max := k.cfg.MaxTimeout
	if v > float64(max/time.Millisecond) {
		return 0, Errorf(CodeBadRequest, "field \"timeout\" exceeds the maximum of %d ms", max/time.Millisecond)
	}
	return time.Duration(v * float64(time.Millisecond)), nil
}

// Bounds of what a request may hand to a sandbox besides its body.
const (
	// MaxEnvVars is the most environment variables one request may set.
	MaxEnvVars = 256
	// MaxEnvBytes bounds the names and values of a request's environment
	// together.
	MaxEnvBytes = 64 << 10
	// MaxCommandBytes bounds a command line.
	MaxCommandBytes = 128 << 10
)

// ValidateEnv validates environment variables a client sets: names are
// identifiers ([A-Za-z_][A-Za-z0-9_]*), values hold no NUL, and there are
// at most MaxEnvVars of them in MaxEnvBytes. Every entry point of the kit
// checks them before anything reaches a provider; providers may check
// again with it.
func ValidateEnv(env map[string]string) error {
	if len(env) > MaxEnvVars {
		return Errorf(CodeBadRequest, "env: more than %d variables", MaxEnvVars)
	}
	size := 0
	for name, val := range env {
		if !validEnvName(name) {
			return Errorf(CodeBadRequest, "env: invalid variable name %q", truncate(name, 64))
		}
		if strings.ContainsRune(val, 0) {
			return Errorf(CodeBadRequest, "env: value of %q contains a NUL byte", name)
		}
		size += len(name) + len(val) + 1
	}
	if size > MaxEnvBytes {
		return Errorf(CodeBadRequest, "env: more than %d bytes in all", MaxEnvBytes)
	}
	return nil
}

// validEnvName reports whether name is a portable variable name: a letter
// or underscore, then letters, digits and underscores.
func validEnvName(name string) bool {
	if name == "" || len(name) > 256 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

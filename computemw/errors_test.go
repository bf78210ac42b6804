package computemw_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/httpapi"
)

// The error table of docs/http-api.md (the error classes of docs/architecture.md),
// written independently of errors.go.
func TestCodeStatusTable(t *testing.T) {
	want := map[computemw.Code]int{
		"TIMEOUT": 408, "EXECUTION_ERROR": 400, "RESOURCE_ERROR": 507, "BAD_REQUEST": 400,
		"UNAUTHORIZED": 401, "FORBIDDEN": 403, "NOT_FOUND": 404, "PAYLOAD_TOO_LARGE": 413,
		"RATE_LIMITED": 429, "QUOTA_EXCEEDED": 429, "UNAVAILABLE": 503, "INTERNAL_ERROR": 500,
		"METHOD_NOT_ALLOWED": 405, "SOMETHING_NEW": 500,
	}
	for code, status := range want {
		if got := computemw.StatusOf(&computemw.Error{Code: code}); got != status {
			t.Errorf("%s → %d, want %d", code, got, status)
		}
	}
}

func TestAsError(t *testing.T) {
	cause := errors.New("disk on fire at /var/lib/x")
	cases := []struct {
		name string
		err  error
		code computemw.Code
		msg  string
	}{
		{"typed", &computemw.Error{Code: computemw.CodeNotFound, Message: "gone"}, computemw.CodeNotFound, "gone"},
		{"wrapped typed keeps status", fmt.Errorf("outer: %w", &computemw.Error{Code: computemw.CodeResource, Message: "oom"}), computemw.CodeResource, "oom"},
		{"wrapped sentinel shows wrapping text", fmt.Errorf("%w: path %q escapes", computemw.ErrBadRequest, "../x"), computemw.CodeBadRequest, `bad request: path "../x" escapes`},
		{"deadline is a timeout", fmt.Errorf("run: %w", context.DeadlineExceeded), computemw.CodeTimeout, "operation timed out"},
		{"unknown is internal and hides its text", cause, computemw.CodeInternal, "internal server error"},
		{"wrapped internal sentinel hides text", fmt.Errorf("secret: %w", computemw.ErrInternal), computemw.CodeInternal, "internal server error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := computemw.AsError(c.err)
			if e.Code != c.code || e.Message != c.msg {
				t.Errorf("got %s %q, want %s %q", e.Code, e.Message, c.code, c.msg)
			}
			if c.code == computemw.CodeInternal && !errors.Is(e, c.err) && e.Err == nil {
				t.Errorf("internal error lost its cause")
			}
		})
	}
	if computemw.AsError(nil) != nil {
		t.Error("AsError(nil) != nil")
	}
}

func TestErrorIsClass(t *testing.T) {
	e := &computemw.Error{Code: computemw.CodeTimeout, Message: "slow", Details: "partial"}
	if !errors.Is(fmt.Errorf("x: %w", e), computemw.ErrTimeout) {
		t.Error("a timeout error is not ErrTimeout")
	}
	if errors.Is(e, computemw.ErrResource) {
		t.Error("a timeout error is ErrResource")
	}
	if computemw.StatusOf(fmt.Errorf("x: %w", computemw.ErrTooLarge)) != 413 {
		t.Error("StatusOf wrapped ErrTooLarge")
	}
}

func TestErrorf(t *testing.T) {
	cause := errors.New("cause")
	e := computemw.Errorf(computemw.CodeBadRequest, "field %q: %w", "x", cause)
	if e.Message != `field "x": cause` || !errors.Is(e, cause) || computemw.StatusOf(e) != 400 {
		t.Errorf("Errorf: %+v", e)
	}
}

// A client that went away is not a server error: 499 CLIENT_CLOSED,
// logged at Info, never at Error. A JSON decoding error of unknown origin
// (an upstream's) stays a 500: only DecodeJSON says a body was the
// client's.
func TestClientClosedAndDecodingErrors(t *testing.T) {
	var logs bytes.Buffer
	kit, _ := newKit(t, computemw.Config{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	resp := httpapi.New(kit).ErrorResponse(context.Background(), fmt.Errorf("exec: %w", context.Canceled), nil)
	if resp.Status != 499 || !strings.Contains(string(resp.Body), "CLIENT_CLOSED") {
		t.Errorf("cancelled: %d %s", resp.Status, resp.Body)
	}
	if strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "level=INFO") {
		t.Errorf("log of a client that went away:\n%s", logs.String())
	}
	var v struct{ A int }
	if s := computemw.StatusOf(json.Unmarshal([]byte(`{`), &v)); s != 500 {
		t.Errorf("a syntax error decoding someone's JSON: %d", s)
	}
	if s := computemw.StatusOf(httpapi.DecodeJSON(strings.NewReader(`{`), 100, &v)); s != 400 {
		t.Errorf("a client's malformed body: %d", s)
	}
}

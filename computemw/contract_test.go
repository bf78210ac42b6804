package computemw_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/httpapi"
)

func TestDecodeJSON(t *testing.T) {
	type body struct {
		Code    string   `json:"code"`
		Timeout *float64 `json:"timeout"`
	}
	cases := []struct {
		name, in string
		code     computemw.Code
		msg      string
	}{
		{"ok", `{"code":"x","timeout":1}`, "", ""},
		{"unknown field", `{"code":"x","extra":1}`, computemw.CodeBadRequest, `unknown field "extra"`},
		{"empty", ``, computemw.CodeBadRequest, "empty"},
		{"spaces", "  \n", computemw.CodeBadRequest, "empty"},
		{"syntax", `{"code":}`, computemw.CodeBadRequest, "malformed JSON at byte"},
		{"truncated", `{"code":"x"`, computemw.CodeBadRequest, "malformed JSON"},
		{"type", `{"code":5}`, computemw.CodeBadRequest, `field "code" must be a string, not number`},
		{"array", `[]`, computemw.CodeBadRequest, "must be a JSON object"},
		{"trailing", `{"code":"x"}x`, computemw.CodeBadRequest, "after the top-level value"},
		{"two values", `{"code":"x"}{"code":"y"}`, computemw.CodeBadRequest, "after the top-level value"},
		{"too large", `{"code":"` + strings.Repeat("a", 100) + `"}`, computemw.CodePayloadTooLarge, "exceeds 64 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b body
			err := httpapi.DecodeJSON(strings.NewReader(c.in), 64, &b)
			if c.code == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			e := computemw.AsError(err)
			if e.Code != c.code || !strings.Contains(e.Message, c.msg) {
				t.Errorf("got %s %q, want %s containing %q", e.Code, e.Message, c.code, c.msg)
			}
		})
	}
}

func TestDecodeJSONMaxBytesReader(t *testing.T) {
	rec := httptest.NewRecorder()
	r := http.MaxBytesReader(rec, io.NopCloser(strings.NewReader(`{"code":"abcdef"}`)), 4)
	var v map[string]any
	err := httpapi.DecodeJSON(r, 1024, &v)
	if !errors.Is(err, computemw.ErrTooLarge) {
		t.Errorf("MaxBytesReader error not mapped to 413: %v", err)
	}
}

package vendorhttp_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/internal/vendorhttp"
)

// TestClassifierStatus maps statuses to kit classes with messages that
// name the vendor, and keeps the vendor's answer as the hidden cause.
func TestClassifierStatus(t *testing.T) {
	c := vendorhttp.Classifier{Vendor: "acme", Message: func(b []byte) string { return "said " + string(b) }}
	for _, tc := range []struct {
		status int
		code   computemw.Code
		msg    string
	}{
		{400, computemw.CodeBadRequest, "acme rejected the request"},
		{404, computemw.CodeNotFound, "not found"},
		{413, computemw.CodePayloadTooLarge, "too large for acme"},
		{429, computemw.CodeRateLimited, "acme is rate limiting requests"},
		{403, computemw.CodeUnavailable, "acme rejected the provider's credentials"},
		{500, computemw.CodeUnavailable, "acme is unavailable"},
	} {
		resp := &http.Response{StatusCode: tc.status, Header: http.Header{"Retry-After": {"3"}}, Body: io.NopCloser(strings.NewReader("no"))}
		_, err := c.Check("op", resp, nil, 200)
		var ke *computemw.Error
		if !errors.As(err, &ke) || ke.Code != tc.code || ke.Message != tc.msg {
			t.Errorf("HTTP %d: %v, want %s %q", tc.status, err, tc.code, tc.msg)
			continue
		}
		if cause := ke.Err.Error(); !strings.HasPrefix(cause, "acme op: HTTP ") || !strings.HasSuffix(cause, ": said no") {
			t.Errorf("HTTP %d: cause %q", tc.status, ke.Err)
		}
		if wantRA := tc.status == 429; (ke.RetryAfter == 3*time.Second) != wantRA {
			t.Errorf("HTTP %d: RetryAfter %v", tc.status, ke.RetryAfter)
		}
	}
}

// TestClassifierCall says why a refused request failed.
func TestClassifierCall(t *testing.T) {
	c := vendorhttp.Classifier{Vendor: "acme"}
	err := c.Call("op", &vendorhttp.RedirectError{Status: 302})
	var ke *computemw.Error
	if !errors.As(err, &ke) || ke.Code != computemw.CodeUnavailable || ke.Message != "acme answered with a redirect, which is not followed" {
		t.Errorf("redirect: %v", err)
	}
}

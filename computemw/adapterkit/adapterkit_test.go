package adapterkit_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/adapterkit"
	"github.com/computemw/kit/computemw/httpapi"
)

func TestRoutePatterns(t *testing.T) {
	for _, c := range []struct {
		path, colon string
		names       []string
	}{
		{"/exec", "/exec", nil},
		{"/sandboxes/{id}", "/sandboxes/:id", []string{"id"}},
		{"/sandboxes/{id}/files/{name}", "/sandboxes/:id/files/:name", []string{"id", "name"}},
		{"/odd/{}/x{y}", "/odd/{}/x{y}", nil},
	} {
		rt := httpapi.Route{Path: c.path}
		if got := adapterkit.ColonPath(rt); got != c.colon {
			t.Errorf("ColonPath(%q) = %q, want %q", c.path, got, c.colon)
		}
		if got := adapterkit.ParamNames(rt); !slices.Equal(got, c.names) {
			t.Errorf("ParamNames(%q) = %q, want %q", c.path, got, c.names)
		}
	}
	if m := adapterkit.PathParams(nil, nil); m != nil {
		t.Errorf("PathParams without names = %v, want nil", m)
	}
	m := adapterkit.PathParams([]string{"id"}, func(n string) string { return n + "-value" })
	if len(m) != 1 || m["id"] != "id-value" {
		t.Errorf("PathParams = %v", m)
	}
}

func TestPublicError(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		msg    string
	}{
		{computemw.Errorf(computemw.CodeUnavailable, "provider down"), 503, "provider down"},
		{fmt.Errorf("%w: field x", computemw.ErrBadRequest), 400, "bad request: field x"},
		{errors.New("db at 10.0.0.1 refused"), 500, "internal server error"},
		{&computemw.Error{Code: computemw.CodeInternal, Message: "secret path /var/lib"}, 500, "internal server error"},
		{nil, 200, ""},
	} {
		status, msg := adapterkit.PublicError(c.err)
		if status != c.status || msg != c.msg {
			t.Errorf("PublicError(%v) = %d %q, want %d %q", c.err, status, msg, c.status, c.msg)
		}
	}
}

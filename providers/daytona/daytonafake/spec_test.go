package daytonafake

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/computemw/kit/providers/internal/openapicheck"
)

func TestSpecsLoad(t *testing.T) {
	if _, _, err := validators(); err != nil {
		t.Fatal(err)
	}
}

// The answers are checked too: a body with a field the spec does not
// have, a wrong type or a missing required field fails; an error status
// must carry the vendor's error shape.
func TestResponseCheck(t *testing.T) {
	cp, tb, err := validators()
	if err != nil {
		t.Fatal(err)
	}
	route := func(v *validator, method, p string) *openapicheck.Match {
		req := httptest.NewRequest(method, p, nil)
		req.Header.Set("Authorization", "Bearer k")
		_, _, m, err := v.checkRoute(req, req.URL.Path, nil)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	json := http.Header{"Content-Type": {"application/json"}}
	rt := route(tb, "GET", "/files/info?path=/x")
	good := `{"name":"f","size":1,"isDir":false,"mode":"-rw-r--r--","permissions":"0644","owner":"o","group":"g","modTime":"t","modifiedAt":"t"}`
	if err := checkResponse(rt, true, 200, json, []byte(good)); err != nil {
		t.Errorf("a valid FileInfo: %v", err)
	}
	for name, body := range map[string]string{
		"unknown field": strings.Replace(good, `"size"`, `"bytes"`, 1),
		"wrong type":    strings.Replace(good, `"size":1`, `"size":"1"`, 1),
		"missing field": strings.Replace(good, `"owner":"o",`, ``, 1),
		"not an object": `"f"`,
	} {
		if err := checkResponse(rt, true, 200, json, []byte(body)); err == nil {
			t.Errorf("%s: passed", name)
		}
	}
	if err := checkResponse(rt, true, 302, json, nil); err == nil {
		t.Error("an undeclared 302 passed")
	}
	oldShape := `{"statusCode":404,"message":"no such file","error":"Not Found"}`
	if err := checkResponse(rt, true, 404, json, []byte(oldShape)); err == nil {
		t.Error("a toolbox error in another shape passed")
	}
	toolboxShape := `{"statusCode":404,"message":"m","code":"NOT_FOUND","timestamp":"t","path":"/p","method":"GET"}`
	if err := checkResponse(rt, true, 404, json, []byte(toolboxShape)); err != nil {
		t.Errorf("a toolbox error in the toolbox's shape: %v", err)
	}
	rt = route(cp, "GET", "/sandbox/x")
	apiShape := `{"path":"/api/sandbox/x","timestamp":"t","statusCode":404,"error":"Not Found","message":"m"}`
	if err := checkResponse(rt, false, 404, json, []byte(apiShape)); err != nil {
		t.Errorf("a control-plane error in its shape: %v", err)
	}
	if err := checkResponse(rt, false, 404, json, []byte(toolboxShape)); err == nil {
		t.Error("a control-plane error in the toolbox's shape passed")
	}
}

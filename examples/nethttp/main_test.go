package main

import (
	"context"
	"testing"

	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/internal/exampletest"
)

func TestExample(t *testing.T) {
	srv := exampletest.Start(t, "github.com/computemw/kit/examples/nethttp")
	for _, c := range []struct{ lang, code string }{
		{"python", "print(2+2)"},
		{"node", "console.log(2+2)"},
		{"bash", "echo $((2+2))"},
	} {
		r := computemwtest.Do(t, context.Background(), "POST", srv.URL+"/api/execute",
			`{"language":"`+c.lang+`","code":"`+c.code+`"}`, nil)
		if r.Status != 200 || r.Body["output"] != "4\n" || r.Body["success"] != true {
			t.Errorf("%s: %d %s", c.lang, r.Status, r.Raw)
		}
	}
	r := computemwtest.Do(t, context.Background(), "POST", srv.URL+"/execute", `{"command":"echo hi"}`, nil)
	if r.Status != 200 || r.Body["output"] != "hi\n" {
		t.Errorf("quick start: %d %s", r.Status, r.Raw)
	}
	r = computemwtest.Do(t, context.Background(), "POST", srv.URL+"/api/compute/python", `{"code":"print(6*7)"}`, nil)
	if r.Status != 200 || r.Body["stdout"] != "42\n" {
		t.Errorf("middleware route: %d %s", r.Status, r.Raw)
	}
	r = computemwtest.Do(t, context.Background(), "POST", srv.URL+"/api/execute", `{"language":"python"}`, nil)
	if r.Status != 400 || r.Code() != "BAD_REQUEST" {
		t.Errorf("validation: %d %s", r.Status, r.Raw)
	}
	r = computemwtest.Do(t, context.Background(), "POST", srv.URL+"/api/execute", `{"language":"python","code":"while True: pass","timeout":500}`, nil)
	if r.Status != 408 || r.Code() != "TIMEOUT" {
		t.Errorf("timeout: %d %s", r.Status, r.Raw)
	}
	srv.Stop(t)
}

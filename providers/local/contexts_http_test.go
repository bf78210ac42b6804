//go:build linux

package local_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/computemw/kit/providers/local"
	"github.com/getkin/kin-openapi/openapi3"
)

// contextClient calls the route group of a test server.
type contextClient struct {
	t   *testing.T
	url string
}

// do sends a JSON request and decodes the JSON answer (nil for none).
func (c contextClient) do(method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.url+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			c.t.Fatalf("%s %s: %d %q is not JSON", method, path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, out
}

// TestContextsHTTP drives code contexts through the route group on a real
// server: state kept between executions, an infinite loop interrupted
// (the test knows it runs when another context's execution, blocked on a
// FIFO the loop's code opens first, returns), a matplotlib chart as an
// image/png result, every execution reported to the hooks; bad input
// answers with a stable code.
func TestContextsHTTP(t *testing.T) {
	// The chart needs the python-data template; the rest runs on the
	// host's python when it is missing.
	dir, charts := templateWithMatplotlib(t)
	cfg := local.Config{}
	session := map[string]any{}
	if charts {
		cfg.Templates = map[string]string{"python-data": dir}
		session["template"] = "python-data"
	}
	p := newTestProvider(t, cfg)
	var mu sync.Mutex
	finished := map[string]int{}
	kit, err := computemw.New(computemw.Config{
		Providers: []computemw.Provider{p},
		Hooks: []*computemw.Hooks{{ExecutionFinished: func(_ context.Context, a *computemw.Action, _ *computemw.Result, _ error, _ time.Duration) {
			mu.Lock()
			finished[string(a.Op)+" "+a.Language]++
			mu.Unlock()
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kit.Close(context.Background()) })
	srv := httptest.NewServer(computehttp.Handler(kit))
	t.Cleanup(srv.Close)
	c := contextClient{t, srv.URL}
	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	// documented checks a body against the OpenAPI description's schema.
	documented := func(schema string, v map[string]any) {
		t.Helper()
		var generic any
		b, _ := json.Marshal(v)
		_ = json.Unmarshal(b, &generic)
		if err := doc.Components.Schemas[schema].Value.VisitJSON(generic, openapi3.EnableJSONSchema2020()); err != nil {
			t.Errorf("%s does not match the document: %v\n%.400s", schema, err, b)
		}
	}

	status, sess := c.do("POST", "/sandboxes", session)
	if status != 201 {
		t.Fatalf("POST /sandboxes: %d %v", status, sess)
	}
	base := "/sandboxes/" + sess["sandboxId"].(string) + "/contexts"
	newCtx := func() string {
		t.Helper()
		status, out := c.do("POST", base, map[string]any{"language": "python"})
		if status != 201 || out["language"] != "python" {
			t.Fatalf("POST %s: %d %v", base, status, out)
		}
		documented("CodeContext", out)
		return out["id"].(string)
	}
	execute := func(id, code string) map[string]any {
		t.Helper()
		status, out := c.do("POST", base+"/"+id+"/execute", map[string]any{"code": code})
		if status != 200 {
			t.Fatalf("execute %q: %d %v", code, status, out)
		}
		documented("ContextExecutionResponse", out)
		return out
	}
	a := newCtx()
	execute(a, "x = 41")
	if out := execute(a, "print(x + 1)"); out["output"] != "42\n" || out["success"] != true || out["error"] != nil {
		t.Fatalf("print(x + 1): %v", out)
	}

	// The interrupt.
	b := newCtx()
	if status, out := c.do("POST", "/sandboxes/"+sess["sandboxId"].(string)+"/exec", map[string]any{"command": "mkfifo started"}); status != 200 || out["exitCode"] != 0.0 {
		t.Fatalf("mkfifo: %d %v", status, out)
	}
	looped := make(chan map[string]any, 1)
	go func() {
		_, out := c.do("POST", base+"/"+a+"/execute", map[string]any{"code": "with open('started', 'w') as f:\n    f.write('x')\nwhile True: pass"})
		looped <- out
	}()
	if out := execute(b, "print(open('started').read())"); out["output"] != "x\n" {
		t.Fatalf("reading the FIFO: %v", out)
	}
	if status, out := c.do("POST", base+"/"+a+"/interrupt", nil); status != 204 {
		t.Fatalf("interrupt: %d %v", status, out)
	}
	out := <-looped
	documented("ContextExecutionResponse", out)
	if e, _ := out["error"].(map[string]any); e == nil || e["name"] != "KeyboardInterrupt" || out["exitCode"] != 1.0 {
		t.Fatalf("the interrupted loop: %v", out)
	}
	if out := execute(a, "x"); len(out["results"].([]any)) != 1 {
		t.Fatalf("x after the interrupt: %v", out)
	} else if r := out["results"].([]any)[0].(map[string]any); r["isMainResult"] != true || r["data"].(map[string]any)["text/plain"] != "41" {
		t.Fatalf("x after the interrupt: %v", r)
	}

	// Restart, list, delete.
	if status, _ := c.do("POST", base+"/"+a+"/restart", nil); status != 204 {
		t.Fatalf("restart: %d", status)
	}
	if out := execute(a, "x"); out["error"].(map[string]any)["name"] != "NameError" {
		t.Fatalf("x after a restart: %v", out)
	}
	if status, out := c.do("GET", base, nil); status != 200 || len(out["contexts"].([]any)) != 2 {
		t.Fatalf("list: %d %v", status, out)
	} else {
		documented("ContextList", out)
	}
	if status, _ := c.do("DELETE", base+"/"+b, nil); status != 204 {
		t.Fatalf("delete: %d", status)
	}

	// Bad input.
	for name, tc := range map[string]struct {
		method, path string
		body         any
		status       int
		code         computemw.Code
	}{
		"unknown context":        {"POST", base + "/ctx-nope/execute", map[string]any{"code": "1"}, 404, computemw.CodeNotFound},
		"deleted context":        {"POST", base + "/" + b + "/execute", map[string]any{"code": "1"}, 404, computemw.CodeNotFound},
		"unknown context delete": {"DELETE", base + "/ctx-nope", nil, 404, computemw.CodeNotFound},
		"code too large":         {"POST", base + "/" + a + "/execute", map[string]any{"code": strings.Repeat("x", computemw.MaxContextCodeBytes+1)}, 413, computemw.CodePayloadTooLarge},
		"no language":            {"POST", base, map[string]any{}, 400, computemw.CodeBadRequest},
		"language without one":   {"POST", base, map[string]any{"language": "sh"}, 400, computemw.CodeExecution},
		"unknown session":        {"POST", "/sandboxes/nope/contexts", map[string]any{"language": "python"}, 404, computemw.CodeNotFound},
	} {
		status, out := c.do(tc.method, tc.path, tc.body)
		if status != tc.status || out["code"] != string(tc.code) {
			t.Errorf("%s: %d %v, want %d %s", name, status, out, tc.status, tc.code)
		}
	}

	mu.Lock()
	got := finished["execute python"]
	mu.Unlock()
	// x = 41, print, the loop, the FIFO's reader, x, x.
	if got != 6 {
		t.Errorf("%d executions in contexts reported to the hooks, want 6", got)
	}

	t.Run("chart", func(t *testing.T) {
		computemwtest.Require(t, charts, "the python-data template has no matplotlib (rebuild it: make template-python-data): "+dir)
		out := execute(a, "import matplotlib.pyplot as plt\nplt.bar(['a', 'b'], [41, 2])\nplt.show()")
		results := out["results"].([]any)
		if len(results) != 1 {
			t.Fatalf("chart: %v", out)
		}
		b64, _ := results[0].(map[string]any)["data"].(map[string]any)["image/png"].(string)
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatalf("image/png: %v", err)
		}
		if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
			t.Fatalf("image/png does not decode: %v", err)
		}
	})
	if status, _ := c.do("DELETE", "/sandboxes/"+sess["sandboxId"].(string), nil); status != 204 {
		t.Fatalf("DELETE session: %d", status)
	}
	// The leak check (the provider's cleanup) finds no driver left.
}

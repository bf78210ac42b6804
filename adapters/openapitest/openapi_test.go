// Package openapitest_test keeps the OpenAPI document of the route group
// true: the document must validate, name every route of the kit, and
// describe every response the adapter conformance suite gets from the
// real servers of net/http, Gin, Echo and Fiber.
package openapitest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/computemw/kit/adapters/internal/harness"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The text/event-stream body of /sandboxes/{id}/exec/stream is checked
	// as the array of its events, as the document describes it.
	openapi3filter.RegisterBodyDecoder("text/event-stream", eventStreamDecoder)
	openapi3filter.RegisterBodyDecoder("application/openmetrics-text", openapi3filter.PlainBodyDecoder)
	goleak.VerifyTestMain(m, harness.LeakOptions()...)
}

var frameworks = []computemwtest.Harness{
	{Name: "net/http", Start: harness.NetHTTP},
	{Name: "gin", Start: harness.Gin},
	{Name: "echo", Start: harness.Echo},
	{Name: "fiber", Start: harness.Fiber},
}

// load loads and validates the document the kit serves.
func load(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(httpapi.OpenAPI())
	if err != nil {
		t.Fatalf("loading the OpenAPI document: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("the OpenAPI document is invalid: %v", err)
	}
	return doc
}

// TestDocumentNamesEveryRoute checks the document against the route table
// both ways: every route and method of the kit is documented, and every
// documented operation is a route of the kit (or the WebSocket endpoint,
// which adapters mount beside the table).
func TestDocumentNamesEveryRoute(t *testing.T) {
	doc := load(t)
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	kit, _ := computemwtest.SuiteKit(t, computemw.Config{})
	inKit := map[string]bool{"GET /ws": true}
	for _, rt := range httpapi.New(kit).Routes() {
		for _, m := range rt.Methods {
			inKit[m+" "+rt.Path] = true
		}
	}
	inDoc := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for m := range item.Operations() {
			inDoc[m+" "+path] = true
		}
	}
	for op := range inKit {
		if !inDoc[op] {
			t.Errorf("%s is a route of the kit but not in the document", op)
		}
	}
	for op := range inDoc {
		if !inKit[op] {
			t.Errorf("%s is in the document but not a route of the kit", op)
		}
	}
	// Every error code of the kit is in the document's enum.
	enum := doc.Components.Schemas["Code"].Value.Enum
	for _, c := range []computemw.Code{computemw.CodeTimeout, computemw.CodeExecution, computemw.CodeResource,
		computemw.CodeBadRequest, computemw.CodeUnauthorized, computemw.CodeForbidden, computemw.CodeNotFound,
		computemw.CodeMethodNotAllowed, computemw.CodePayloadTooLarge, computemw.CodeUnsupportedMedia,
		computemw.CodeRangeNotSatisfiable, computemw.CodeRateLimited, computemw.CodeQuotaExceeded, computemw.CodeUnavailable,
		computemw.CodeClientClosed, computemw.CodeInternal} {
		if !slices.Contains(enum, any(string(c))) {
			t.Errorf("code %s is not in the document", c)
		}
	}
}

// TestResponsesMatchDocument runs the adapter conformance suite on each
// framework behind a recording proxy, adds requests for the routes the
// suite does not call, and validates every recorded response against the
// document with kin-openapi. Every documented operation must have been
// answered and validated at least once on every framework.
func TestResponsesMatchDocument(t *testing.T) {
	doc := load(t)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, fw := range frameworks {
		t.Run(fw.Name, func(t *testing.T) {
			rec := &computemwtest.Recorder{}
			h := rec.Harness(fw)
			t.Run("suite", func(t *testing.T) { computemwtest.AdapterSuite(t, h) })
			t.Run("other routes", func(t *testing.T) { otherRoutes(t, h) })
			st := validate(doc, router, rec.Exchanges())
			for _, f := range st.failures {
				t.Error(f)
			}
			t.Logf("%s: %d exchanges: %d validated against their operation, %d error bodies of unrouted requests, %d outside the route group, %d bodies not read to the end (headers and status validated)",
				fw.Name, st.total, st.validated, st.unrouted, st.outside, st.partial)
			for path, item := range doc.Paths.Map() {
				for m := range item.Operations() {
					if !st.covered[m+" "+path] {
						t.Errorf("%s %s was never answered on %s", m, path, fw.Name)
					}
				}
			}
			if fw.Name == "net/http" {
				driftIsCaught(t, rec.Exchanges())
			}
		})
	}
}

type stats struct {
	total, validated, unrouted, outside, partial int
	covered                                      map[string]bool
	failures                                     []string
}

func (st *stats) fail(format string, args ...any) {
	st.failures = append(st.failures, fmt.Sprintf(format, args...))
}

// driftIsCaught validates the same exchanges against documents that each
// differ from the code in one way, and expects failures: the check bites.
func driftIsCaught(t *testing.T, all []computemwtest.Recorded) {
	for name, mutate := range map[string]func(*openapi3.T){
		"a field the code sends is not documented": func(d *openapi3.T) {
			delete(d.Components.Schemas["ExecutionResponse"].Value.Properties, "cpuTime")
		},
		"a documented field has another type": func(d *openapi3.T) {
			d.Components.Schemas["SessionInfo"].Value.Properties["createdAt"].Value.Type = &openapi3.Types{"integer"}
		},
		"a status the code answers is not documented": func(d *openapi3.T) {
			d.Paths.Value("/execute").Post.Responses.Delete("408")
		},
		"a required header is missing": func(d *openapi3.T) {
			d.Components.Headers["RequestId"].Value.Schema.Value.MinLength = 200
		},
	} {
		doc := load(t)
		mutate(doc)
		router, err := gorillamux.NewRouter(doc)
		if err != nil {
			t.Fatal(err)
		}
		if st := validate(doc, router, all); len(st.failures) == 0 {
			t.Errorf("%s: no response failed validation", name)
		}
	}
}

// validate checks each exchange: a request the document routes against
// its operation (status, headers, body); an unknown path or method must be
// the kit's 404 or 405 error; outside the route group (the suite's
// middleware routes), error bodies are the kit's.
func validate(doc *openapi3.T, router routers.Router, all []computemwtest.Recorded) *stats {
	errSchema := doc.Components.Responses["NotFound"].Value
	st := &stats{total: len(all), covered: map[string]bool{}}
	for _, x := range all {
		where := fmt.Sprintf("%s: %s %s → %d", x.Test, x.Request.Method, x.Request.URL.Path, x.Status)
		if x.Status == http.StatusBadGateway && len(x.Body) == 0 {
			continue // the proxy's: the server broke the connection on purpose (a panic)
		}
		if !strings.HasPrefix(x.Request.URL.Path, computemwtest.Prefix+"/") {
			st.outside++
			// The kit renders the middleware's errors; a panic in a
			// handler is the framework's recover middleware's to answer.
			if x.Status >= 400 && x.Request.URL.Path != computemwtest.PanicPath {
				checkErrorBody(st, where, errSchema, x)
			}
			continue
		}
		route, params, err := router.FindRoute(x.Request)
		switch {
		case errors.Is(err, routers.ErrPathNotFound):
			st.unrouted++
			if x.Status != http.StatusNotFound {
				st.fail("%s: a path the document does not have must be 404", where)
			}
			checkErrorBody(st, where, errSchema, x)
			continue
		case errors.Is(err, routers.ErrMethodNotAllowed):
			st.unrouted++
			if x.Request.Method == http.MethodOptions && x.Request.Header.Get("Access-Control-Request-Method") != "" {
				if x.Status != http.StatusNoContent && x.Status != http.StatusForbidden {
					st.fail("%s: a CORS preflight is 204 or 403", where)
				}
				if x.Status == http.StatusForbidden {
					checkErrorBody(st, where, errSchema, x)
				}
				continue
			}
			if x.Status != http.StatusMethodNotAllowed || x.Header.Get("Allow") == "" {
				st.fail("%s: a method the document does not have must be 405 with Allow", where)
			}
			checkErrorBody(st, where, errSchema, x)
			continue
		case err != nil:
			st.fail("%s: finding the route: %v", where, err)
			continue
		}
		opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true,
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}
		if !x.Complete || x.Truncated {
			st.partial++
			opts.ExcludeResponseBody = true
		}
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: x.Request, PathParams: params, Route: route, Options: opts},
			Status:                 x.Status,
			Header:                 x.Header,
			Body:                   io.NopCloser(bytes.NewReader(x.Body)),
			Options:                opts,
		}
		if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
			st.fail("%s: the response does not match the document: %v\nheaders %v\nbody %.600s", where, err, x.Header, x.Body)
			continue
		}
		st.validated++
		st.covered[route.Method+" "+route.Path] = true
	}
	return st
}

// checkErrorBody validates an error response that no operation describes
// against the document's error response (ErrorBody, or Problem).
func checkErrorBody(st *stats, where string, resp *openapi3.Response, x computemwtest.Recorded) {
	if !x.Complete {
		return
	}
	ct, _, _ := mime.ParseMediaType(x.Header.Get("Content-Type"))
	mt := resp.Content.Get(ct)
	if mt == nil {
		st.fail("%s: error with Content-Type %q", where, x.Header.Get("Content-Type"))
		return
	}
	var v any
	if err := json.Unmarshal(x.Body, &v); err != nil {
		st.fail("%s: error body is not JSON: %v", where, err)
		return
	}
	if err := mt.Schema.Value.VisitJSON(v, openapi3.EnableJSONSchema2020(), openapi3.MultiErrors()); err != nil {
		st.fail("%s: error body does not match the document: %v\n%s", where, err, x.Body)
	}
	if x.Header.Get(computemw.RequestIDHeader) == "" {
		st.fail("%s: no X-Request-ID", where)
	}
}

// otherRoutes sends the requests the adapter suite does not make, through
// h (so they are recorded): the session routes one by one, every file
// action, the event stream, the WebSocket upgrade, and the operations
// routes.
func otherRoutes(t *testing.T, h computemwtest.Harness) {
	kit, fake := computemwtest.SuiteKit(t, computemw.Config{})
	startJobs(t, kit)
	base := h.Start(t, kit) + computemwtest.Prefix
	ctx := context.Background()
	jobRoutes(t, base)
	do := func(method, path, body string, want int) *computemwtest.Reply {
		t.Helper()
		r := computemwtest.Do(t, ctx, method, base+path, body, nil)
		if r.Status != want {
			t.Errorf("%s %s: %d %s, want %d", method, path, r.Status, r.Raw, want)
		}
		return r
	}
	for _, p := range []string{"/languages", "/openapi.json", "/ready", "/metrics", "/health"} {
		do(http.MethodGet, p, "", http.StatusOK)
	}
	do(http.MethodGet, "/usage", "", http.StatusNotFound) // no authentication is configured

	id, _ := do(http.MethodPost, "/sandboxes", `{"language":"python","timeout":60000,"metadata":{"owner":"test"}}`, http.StatusCreated).Body["sandboxId"].(string)
	do(http.MethodPost, "/sandboxes", `{"timeout":-5}`, http.StatusBadRequest)
	do(http.MethodGet, "/sandboxes", "", http.StatusOK)
	s := "/sandboxes/" + id
	do(http.MethodGet, s, "", http.StatusOK)
	do(http.MethodPost, s+"/keepalive", "", http.StatusOK)
	do(http.MethodPost, s+"/execute", `{"language":"python","code":"echo 5"}`, http.StatusOK)
	do(http.MethodPost, s+"/execute", `{"language":"bash","code":"sleep","timeout":20}`, http.StatusRequestTimeout)
	do(http.MethodPost, s+"/exec", `{"command":"exit 1"}`, http.StatusOK)
	for _, c := range []struct {
		body string
		want int
	}{
		{`{"action":"mkdir","path":"d"}`, 200},
		{`{"action":"write","path":"d/f.txt","content":"aGk=","encoding":"base64"}`, 200},
		{`{"action":"read","path":"d/f.txt"}`, 200},
		{`{"action":"read","path":"d/f.txt","encoding":"base64"}`, 200},
		{`{"action":"download","path":"d/f.txt"}`, 400}, // the fake provider cannot stream files
		{`{"action":"stat","path":"d/f.txt"}`, 200},
		{`{"action":"list"}`, 200},
		{`{"action":"delete","path":"d/f.txt"}`, 200},
		{`{"action":"read","path":"d/f.txt"}`, 404},
		{`{"action":"chmod","path":"x"}`, 400},
	} {
		do(http.MethodPost, s+"/files", c.body, c.want)
	}
	// Files as files: the fake provider writes from a stream through
	// WriteFile, and cannot open a file for a download (400).
	do(http.MethodPut, s+"/files?path=d/raw.txt", "raw bytes", http.StatusOK)
	do(http.MethodGet, s+"/files?path=d/raw.txt", "", http.StatusBadRequest)
	do(http.MethodGet, s+"/files", "", http.StatusBadRequest)
	form := "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"up.txt\"\r\n\r\nuploaded\r\n--b--\r\n"
	if r := computemwtest.Do(t, ctx, http.MethodPost, base+s+"/files?path=d", form, map[string]string{"Content-Type": "multipart/form-data; boundary=b"}); r.Status != http.StatusOK {
		t.Errorf("multipart upload: %d %s", r.Status, r.Raw)
	}
	stream := do(http.MethodPost, s+"/exec/stream", `{"command":"echo streamed"}`, http.StatusOK)
	if !bytes.Contains(stream.Raw, []byte("event: exit")) {
		t.Errorf("event stream: %s", stream.Raw)
	}
	do(http.MethodPost, s+"/exec/stream", `{"command":"sleep","timeout":20}`, http.StatusOK)
	do(http.MethodPost, s+"/exec/stream", `{}`, http.StatusBadRequest)
	// The fake provider has no background processes: the routes answer
	// what the document says of that.
	do(http.MethodPost, s+"/processes", `{"command":"sleep 100 &"}`, http.StatusBadRequest)
	do(http.MethodGet, s+"/processes", "", http.StatusBadRequest)
	do(http.MethodDelete, s+"/processes/x", "", http.StatusBadRequest)
	do(http.MethodDelete, s+"/processes/7", "", http.StatusBadRequest)
	// Nor code contexts (providers/local's tests validate its answers).
	do(http.MethodPost, s+"/contexts", `{"language":"python"}`, http.StatusBadRequest)
	do(http.MethodGet, s+"/contexts", "", http.StatusBadRequest)
	do(http.MethodDelete, s+"/contexts/ctx-1", "", http.StatusBadRequest)
	do(http.MethodPost, s+"/contexts/ctx-1/execute", `{"code":"x = 41"}`, http.StatusBadRequest)
	do(http.MethodPost, s+"/contexts/ctx-1/interrupt", "", http.StatusBadRequest)
	do(http.MethodPost, s+"/contexts/ctx-1/restart", "", http.StatusBadRequest)
	do(http.MethodDelete, s, "", http.StatusNoContent)
	do(http.MethodPost, "/sandboxes/"+id+"/keepalive", "", http.StatusNotFound)
	do(http.MethodPost, "/sandboxes/"+id+"/exec", `{"command":"true"}`, http.StatusNotFound)

	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(wctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", nil)
	if err != nil {
		t.Fatalf("dial /ws: %v", err)
	}
	if err := c.Write(wctx, websocket.MessageText, []byte(`{"type":"create-sandbox"}`)); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := c.Read(wctx); err != nil || !bytes.Contains(msg, []byte("sandbox-ready")) {
		t.Errorf("create-sandbox: %s %v", msg, err)
	}
	c.Close(websocket.StatusNormalClosure, "")
	// Not an upgrade: the WebSocket library answers, 426 or (Fiber's) 400.
	if r := computemwtest.Do(t, ctx, http.MethodGet, base+"/ws", "", nil); r.Status != http.StatusUpgradeRequired && r.Status != http.StatusBadRequest {
		t.Errorf("GET /ws without an upgrade: %d %s", r.Status, r.Raw)
	}
	if !fake.WaitLive(0, 10*time.Second) {
		t.Errorf("%d sandboxes left", fake.Live())
	}
}

// eventStreamDecoder decodes a text/event-stream body into the array of
// its events, {"event": name, "data": the JSON of its data line}.
func eventStreamDecoder(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	var events []any
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 2<<20)
	ev := map[string]any{}
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if len(ev) > 0 {
				events = append(events, ev)
				ev = map[string]any{}
			}
		case strings.HasPrefix(line, "event: "):
			ev["event"] = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			var v any
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &v); err != nil {
				return nil, fmt.Errorf("event data is not JSON: %w", err)
			}
			ev["data"] = v
		default:
			return nil, fmt.Errorf("unexpected event-stream line %q", line)
		}
	}
	if len(ev) > 0 {
		events = append(events, ev)
	}
	return events, sc.Err()
}

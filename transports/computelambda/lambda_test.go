package computelambda_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/fakeprovider"
	computelambda "github.com/computemw/kit/transports/computelambda"
)

const allowedOrigin = "https://app.example.com"

// The events of each kind, as AWS documents them: a REST API's proxy
// integration (payload 1.0), an HTTP API (payload 2.0), a function URL.
var fixtures = []struct{ name, file string }{
	{"rest-v1", "apigw-rest-v1.json"},
	{"http-v2", "apigw-http-v2.json"},
	{"function-url", "function-url.json"},
}

// event loads a fixture as a JSON object to change before sending.
func event(t *testing.T, file string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// setMethod changes the event's HTTP method, wherever its kind keeps it.
func setMethod(ev map[string]any, method string) {
	rc := ev["requestContext"].(map[string]any)
	if _, ok := ev["httpMethod"]; ok {
		ev["httpMethod"], rc["httpMethod"] = method, method
		return
	}
	rc["http"].(map[string]any)["method"] = method
}

// setHeader sets (or with value "" removes) a request header of the event.
func setHeader(ev map[string]any, name, value string) {
	if mv, ok := ev["multiValueHeaders"].(map[string]any); ok {
		delete(mv, name)
		if value != "" {
			mv[name] = []any{value}
		}
	}
	h := ev["headers"].(map[string]any)
	if _, ok := ev["httpMethod"]; !ok {
		name = strings.ToLower(name)
	}
	delete(h, name)
	if value != "" {
		h[name] = value
	}
}

// setRequest changes the event's path and body.
func setRequest(ev map[string]any, path, body string) {
	if _, ok := ev["httpMethod"]; ok {
		ev["path"] = path
	} else {
		ev["rawPath"] = path
		ev["requestContext"].(map[string]any)["http"].(map[string]any)["path"] = path
	}
	ev["body"] = body
}

// response is the response event of either format.
type response struct {
	StatusCode        int                 `json:"statusCode"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Body              string              `json:"body"`
	IsBase64Encoded   bool                `json:"isBase64Encoded"`
}

func (r response) header(name string) string {
	for k, v := range r.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	for k, v := range r.MultiValueHeaders {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return strings.Join(v, ",")
		}
	}
	return ""
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.Body), &m); err != nil {
		t.Fatalf("body %q: %v", r.Body, err)
	}
	return m
}

// invoke sends the event through h as the Lambda runtime would.
func invoke(t *testing.T, h *computelambda.Handler, ev map[string]any) response {
	t.Helper()
	payload, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := h.Invoke(ctx, payload)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	var r response
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("response %s: %v", out, err)
	}
	return r
}

// handlerOver serves the kit's route group under /api, as the Lambda
// starter does.
func handlerOver(kit *computemw.Kit) *computelambda.Handler {
	mux := http.NewServeMux()
	computehttp.Mount(mux, "/api", kit)
	return computelambda.New(mux, computelambda.Options{})
}

func fakeKit(t *testing.T) (*computemw.Kit, *fakeprovider.Provider) {
	t.Helper()
	fake := fakeprovider.New("fake")
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{fake}, AllowedOrigins: []string{allowedOrigin},
		DestroyBeforeReturn: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		kit.Close(context.Background())
		if n := fake.Live(); n != 0 {
			t.Errorf("%d sandboxes left", n)
		}
	})
	return kit, fake
}

// TestEvents sends each kind of event through the handler: the execute
// route answers in the event's response format with the contract's body
// and CORS for the allowed origin, a wrong method is 405 with Allow, an
// origin that is not allowed gets no CORS header and its preflight is
// refused, the allowed origin's preflight is answered.
func TestEvents(t *testing.T) {
	kit, fake := fakeKit(t)
	h := handlerOver(kit)
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			r := invoke(t, h, event(t, fx.file))
			b := r.json(t)
			if r.StatusCode != 200 || b["output"] != "hi\n" || b["success"] != true || b["exitCode"] != 0.0 || b["stderr"] != "" {
				t.Fatalf("POST /api/execute: %d %s", r.StatusCode, r.Body)
			}
			if _, ok := b["executionTime"].(float64); !ok {
				t.Errorf("no executionTime in %s", r.Body)
			}
			if ct := r.header("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			if got := r.header("Access-Control-Allow-Origin"); got != allowedOrigin {
				t.Errorf("Access-Control-Allow-Origin %q, want %q", got, allowedOrigin)
			}
			if r.header("X-Request-ID") == "" {
				t.Error("no X-Request-ID")
			}

			ev := event(t, fx.file)
			setMethod(ev, http.MethodGet)
			r = invoke(t, h, ev)
			if r.StatusCode != 405 || r.json(t)["code"] != "METHOD_NOT_ALLOWED" || !strings.Contains(r.header("Allow"), "POST") {
				t.Errorf("GET /api/execute: %d %v %s", r.StatusCode, r.Headers, r.Body)
			}

			ev = event(t, fx.file)
			setHeader(ev, "Origin", "https://evil.example")
			r = invoke(t, h, ev)
			if r.StatusCode != 200 || r.header("Access-Control-Allow-Origin") != "" {
				t.Errorf("other origin: %d, Access-Control-Allow-Origin %q", r.StatusCode, r.header("Access-Control-Allow-Origin"))
			}

			for _, tc := range []struct {
				origin string
				status int
			}{{allowedOrigin, 204}, {"https://evil.example", 403}} {
				ev = event(t, fx.file)
				setMethod(ev, http.MethodOptions)
				setHeader(ev, "Origin", tc.origin)
				setHeader(ev, "Access-Control-Request-Method", http.MethodPost)
				ev["body"] = ""
				r = invoke(t, h, ev)
				allow := r.header("Access-Control-Allow-Origin")
				if r.StatusCode != tc.status || (tc.status == 204) != (allow == tc.origin) {
					t.Errorf("preflight from %s: %d, Access-Control-Allow-Origin %q", tc.origin, r.StatusCode, allow)
				}
			}

			ev = event(t, fx.file)
			ev["body"] = base64.StdEncoding.EncodeToString([]byte(`{"language":"python","code":"echo b64"}`))
			ev["isBase64Encoded"] = true
			if r = invoke(t, h, ev); r.StatusCode != 200 || r.json(t)["output"] != "b64\n" {
				t.Errorf("base64 body: %d %s", r.StatusCode, r.Body)
			}

			ev = event(t, fx.file)
			ev["body"] = `{"language":"python"`
			if r = invoke(t, h, ev); r.StatusCode != 400 || r.json(t)["code"] != "BAD_REQUEST" {
				t.Errorf("malformed body: %d %s", r.StatusCode, r.Body)
			}
		})
	}
	if !fake.WaitLive(0, 5*time.Second) {
		t.Errorf("%d sandboxes live after the invocations", fake.Live())
	}
}

// TestUnsupportedEvent refuses an event of another service.
func TestUnsupportedEvent(t *testing.T) {
	kit, _ := fakeKit(t)
	h := handlerOver(kit)
	for _, payload := range []string{`{"Records":[{"eventSource":"aws:sqs","body":"x"}]}`, `{}`} {
		if _, err := h.Invoke(context.Background(), []byte(payload)); !errors.Is(err, computelambda.ErrUnsupportedEvent) {
			t.Errorf("%s: %v, want ErrUnsupportedEvent", payload, err)
		}
	}
	if _, err := h.Invoke(context.Background(), []byte(`not json`)); err == nil {
		t.Error("a payload that is not JSON was accepted")
	}
}

// TestGoverned: an execution through each kind of event is admitted,
// authorized, counted in the metrics, logged and charged to the caller's
// quota exactly once; a caller without credentials is refused with 401
// and nothing runs.
func TestGoverned(t *testing.T) {
	g := computemwtest.GovernedKit(t)
	h := handlerOver(g.Kit)
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			before := g.Snapshot(t)
			ev := event(t, fx.file)
			setRequest(ev, "/api/exec", `{"command":"echo governed"}`)
			setHeader(ev, "X-API-Key", computemwtest.GovernedAPIKey)
			r := invoke(t, h, ev)
			if r.StatusCode != 200 || r.json(t)["output"] != "governed\n" {
				t.Fatalf("POST /api/exec: %d %s", r.StatusCode, r.Body)
			}
			g.CheckOneExecution(t, before, computemw.StatusSuccess)

			before = g.Snapshot(t)
			ev = event(t, fx.file)
			setRequest(ev, "/api/exec", `{"command":"echo governed"}`)
			r = invoke(t, h, ev)
			if r.StatusCode != 401 || r.json(t)["code"] != "UNAUTHORIZED" {
				t.Errorf("without credentials: %d %s", r.StatusCode, r.Body)
			}
			g.CheckNothing(t, before)
		})
	}
	if !g.Fake.WaitLive(0, 5*time.Second) {
		t.Errorf("%d sandboxes live", g.Fake.Live())
	}
}

// TestStripBasePath: an HTTP API stage other than $default starts the raw
// path; Options.StripBasePath removes it before the routes see it.
func TestStripBasePath(t *testing.T) {
	kit, _ := fakeKit(t)
	mux := http.NewServeMux()
	computehttp.Mount(mux, "/api", kit)
	h := computelambda.New(mux, computelambda.Options{StripBasePath: "prod"})
	ev := event(t, "apigw-http-v2.json")
	setRequest(ev, "/prod/api/execute", `{"language":"python","code":"echo staged"}`)
	ev["requestContext"].(map[string]any)["stage"] = "prod"
	if r := invoke(t, h, ev); r.StatusCode != 200 || r.json(t)["output"] != "staged\n" {
		t.Errorf("%d %s", r.StatusCode, r.Body)
	}
	if r := invoke(t, handlerOver(kit), ev); r.StatusCode != 404 {
		t.Errorf("without StripBasePath: %d %s", r.StatusCode, r.Body)
	}
}

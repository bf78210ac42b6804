package handler

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/fakeprovider"
)

// reply is one answer of the function.
type reply struct {
	status int
	header http.Header
	body   map[string]any
}

func call(t *testing.T, url, method, body string, header map[string]string) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := reply{status: resp.StatusCode, header: resp.Header}
	if resp.StatusCode != http.StatusNoContent {
		if err := json.NewDecoder(resp.Body).Decode(&r.body); err != nil {
			t.Fatalf("%s %s: %d, body: %v", method, url, resp.StatusCode, err)
		}
	}
	return r
}

// TestHandlerWithoutProvider: with no remote provider configured, the
// function answers every call with 503 and the message that says what to
// set.
func TestHandlerWithoutProvider(t *testing.T) {
	t.Setenv("E2B_API_KEY", "")
	t.Setenv("DAYTONA_API_KEY", "")
	srv := httptest.NewServer(http.HandlerFunc(Handler))
	t.Cleanup(srv.Close)
	r := call(t, srv.URL+"/api/execute", http.MethodPost, `{"language":"python","code":"print(1)"}`, nil)
	if r.status != 503 || r.body["code"] != "UNAVAILABLE" || r.body["error"] != errNoProvider.Error() {
		t.Errorf("%d %v", r.status, r.body)
	}
}

// TestExecute serves the function over net/http with the fake provider in
// place of a remote one: the guide's request and response, 405 for other
// methods, CORS for the configured origin only, 400 for a bad body.
func TestExecute(t *testing.T) {
	t.Setenv("COMPUTEMW_ALLOWED_ORIGINS", "https://app.example.com, https://admin.example.com")
	fake := fakeprovider.New("fake")
	kit, err := newKit(fake)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kit.Close(context.Background()) })
	srv := httptest.NewServer(executeHandler(kit))
	t.Cleanup(srv.Close)
	url := srv.URL + "/api/execute"

	r := call(t, url, http.MethodPost, `{"language":"python","code":"echo hi"}`, map[string]string{"Origin": "https://app.example.com"})
	if r.status != 200 || r.body["output"] != "hi\n" || r.body["success"] != true || r.body["stderr"] != "" {
		t.Fatalf("POST: %d %v", r.status, r.body)
	}
	if _, ok := r.body["executionTime"].(float64); !ok {
		t.Errorf("no executionTime: %v", r.body)
	}
	if got := r.header.Get("Access-Control-Allow-Origin"); got != "https://app.example.com" {
		t.Errorf("Access-Control-Allow-Origin %q", got)
	}
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		r = call(t, url, m, "", nil)
		if r.status != 405 || r.body["code"] != "METHOD_NOT_ALLOWED" || !strings.Contains(r.header.Get("Allow"), "POST") {
			t.Errorf("%s: %d %v %v", m, r.status, r.header, r.body)
		}
	}
	r = call(t, url, http.MethodPost, `{"language":"python","code":"echo hi"}`, map[string]string{"Origin": "https://evil.example"})
	if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("other origin: %d, Access-Control-Allow-Origin %q", r.status, r.header.Get("Access-Control-Allow-Origin"))
	}
	r = call(t, url, http.MethodOptions, "", map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
	if r.status != 403 {
		t.Errorf("preflight of another origin: %d", r.status)
	}
	r = call(t, url, http.MethodOptions, "", map[string]string{"Origin": "https://admin.example.com", "Access-Control-Request-Method": "POST"})
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "https://admin.example.com" {
		t.Errorf("preflight of an allowed origin: %d %v", r.status, r.header)
	}
	for _, body := range []string{`{"language":"python"}`, `{"code":"echo x"}`, `{"code":`, `[]`} {
		r = call(t, url, http.MethodPost, body, nil)
		if r.status != 400 || r.body["code"] != "BAD_REQUEST" {
			t.Errorf("%s: %d %v", body, r.status, r.body)
		}
	}
	if !fake.WaitLive(0, 5*time.Second) {
		t.Errorf("%d sandboxes live", fake.Live())
	}
}

// TestGoverned: the function's executions take the kit's governed path:
// counted in the metrics, logged and charged to the caller's quota once;
// refused without credentials.
func TestGoverned(t *testing.T) {
	g := computemwtest.GovernedKit(t)
	srv := httptest.NewServer(executeHandler(g.Kit))
	t.Cleanup(srv.Close)
	usage := func() int64 {
		u, _, err := g.Quota.Usage(context.Background(), computemw.Principal{ID: "gov"})
		if err != nil {
			t.Fatal(err)
		}
		return u.Executions
	}
	charged, finished := usage(), len(g.Hooks.Finished())
	r := call(t, srv.URL+"/api/execute", http.MethodPost, `{"language":"python","code":"echo governed"}`,
		map[string]string{"X-API-Key": computemwtest.GovernedAPIKey})
	if r.status != 200 || r.body["output"] != "governed\n" {
		t.Fatalf("%d %v", r.status, r.body)
	}
	if n := computemwtest.MetricValue(t, g.Kit, "compute_executions_total",
		map[string]string{"provider": "fake", "language": "python", "status": computemw.StatusSuccess}); n != 1 {
		t.Errorf("compute_executions_total{python,success} = %v, want 1", n)
	}
	if n := usage() - charged; n != 1 {
		t.Errorf("quota charged %d executions, want 1", n)
	}
	if fin := g.Hooks.Finished(); len(fin)-finished != 1 || fin[len(fin)-1].Timeout > computemwtest.GovernedTimeLimit {
		t.Errorf("hooks saw %v, want one execution held to the role's limit", fin[finished:])
	}
	before := g.Snapshot(t)
	r = call(t, srv.URL+"/api/execute", http.MethodPost, `{"language":"python","code":"echo governed"}`, nil)
	if r.status != 401 || r.body["code"] != "UNAUTHORIZED" {
		t.Errorf("without credentials: %d %v", r.status, r.body)
	}
	g.CheckNothing(t, before)
}

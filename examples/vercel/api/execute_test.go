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
	"github.com/computemw/kit/providers/e2b"
	"github.com/computemw/kit/providers/e2b/e2bfake"
)

const apiKey = "starter-test-key"

// withKey adds the test's API key to header.
func withKey(header map[string]string) map[string]string {
	out := map[string]string{"X-API-Key": apiKey}
	for k, v := range header {
		out[k] = v
	}
	return out
}

// starterKit builds the function's kit over prov from the environment,
// with the test's API key, and serves it on loopback.
func starterKit(t *testing.T, prov computemw.Provider) (*computemw.Kit, string) {
	t.Helper()
	t.Setenv("COMPUTEMW_API_KEY", apiKey)
	t.Setenv("COMPUTEMW_JWT_SECRET", "")
	kit, err := newKit(prov)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kit.Close(context.Background()) })
	srv := httptest.NewServer(executeHandler(kit))
	t.Cleanup(srv.Close)
	return kit, srv.URL + "/api/execute"
}

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

// TestHandlerWithoutAuthenticator: with a provider but no JWT secret and
// no API key, the function runs nothing and answers every call with 503
// and the message that says what to set; a JWT secret too short to be
// safe is refused too.
func TestHandlerWithoutAuthenticator(t *testing.T) {
	t.Setenv("E2B_API_KEY", "e2b_test")
	t.Setenv("DAYTONA_API_KEY", "")
	t.Setenv("COMPUTEMW_API_KEY", "")
	for _, tc := range []struct{ secret, want string }{{"", errNoAuth.Error()}, {"short", "at least 32"}} {
		t.Setenv("COMPUTEMW_JWT_SECRET", tc.secret)
		srv := httptest.NewServer(build())
		r := call(t, srv.URL+"/api/execute", http.MethodPost, `{"language":"python","code":"print(1)"}`,
			map[string]string{"X-API-Key": apiKey})
		srv.Close()
		if msg, _ := r.body["error"].(string); r.status != 503 || r.body["code"] != "UNAVAILABLE" || !strings.Contains(msg, tc.want) {
			t.Errorf("secret %q: %d %v", tc.secret, r.status, r.body)
		}
	}
}

// TestExecute serves the function over net/http with the fake provider in
// place of a remote one: the guide's request and response, 405 for other
// methods, CORS for the configured origin only, 400 for a bad body.
func TestExecute(t *testing.T) {
	t.Setenv("COMPUTEMW_ALLOWED_ORIGINS", "https://app.example.com, https://admin.example.com")
	t.Setenv("COMPUTEMW_RATE_FREE", "100")
	fake := fakeprovider.New("fake")
	_, url := starterKit(t, fake)

	r := call(t, url, http.MethodPost, `{"language":"python","code":"echo hi"}`, withKey(map[string]string{"Origin": "https://app.example.com"}))
	if r.status != 200 || r.body["output"] != "hi\n" || r.body["success"] != true || r.body["stderr"] != "" {
		t.Fatalf("POST: %d %v", r.status, r.body)
	}
	if _, ok := r.body["executionTime"].(float64); !ok {
		t.Errorf("no executionTime: %v", r.body)
	}
	if got := r.header.Get("Access-Control-Allow-Origin"); got != "https://app.example.com" {
		t.Errorf("Access-Control-Allow-Origin %q", got)
	}
	if r = call(t, url, http.MethodPost, `{"language":"python","code":"echo hi"}`, nil); r.status != 401 || r.body["code"] != "UNAUTHORIZED" {
		t.Errorf("without the key: %d %v", r.status, r.body)
	}
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		r = call(t, url, m, "", withKey(nil))
		if r.status != 405 || r.body["code"] != "METHOD_NOT_ALLOWED" || !strings.Contains(r.header.Get("Allow"), "POST") {
			t.Errorf("%s: %d %v %v", m, r.status, r.header, r.body)
		}
	}
	r = call(t, url, http.MethodPost, `{"language":"python","code":"echo hi"}`, withKey(map[string]string{"Origin": "https://evil.example"}))
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
		r = call(t, url, http.MethodPost, body, withKey(nil))
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

// TestNothingOutlivesAnInvocation serves 20 executions on E2B (its
// contract fake): the moment each answer reaches the client, no sandbox is
// alive, neither in the kit nor at the vendor — the function is frozen
// then, and a sandbox alive at that moment lives on at the operator's
// expense.
func TestNothingOutlivesAnInvocation(t *testing.T) {
	t.Setenv("COMPUTEMW_RATE_FREE", "100")
	fake := e2bfake.New(t)
	prov, err := e2b.New(fake.Options())
	if err != nil {
		t.Fatal(err)
	}
	kit, url := starterKit(t, prov)
	alive := 0
	for i := range 20 {
		r := call(t, url, http.MethodPost, `{"language":"bash","code":"echo once"}`, withKey(nil))
		kitLive, vendorLive := kit.Stats().Live, len(fake.Live())
		if r.status != 200 || r.body["output"] != "once\n" {
			t.Fatalf("call %d: %d %v", i, r.status, r.body)
		}
		if kitLive != 0 || vendorLive != 0 {
			alive++
		}
	}
	if alive != 0 {
		t.Errorf("%d of 20 calls answered with a sandbox alive", alive)
	}
}

// TestRateLimit: a caller past its tier's requests in the window is
// refused with 429 RATE_LIMITED and Retry-After, and nothing runs.
func TestRateLimit(t *testing.T) {
	t.Setenv("COMPUTEMW_RATE_FREE", "3")
	fake := fakeprovider.New("fake")
	_, url := starterKit(t, fake)
	const body = `{"language":"python","code":"echo ok"}`
	for i := range 3 {
		if r := call(t, url, http.MethodPost, body, withKey(nil)); r.status != 200 {
			t.Fatalf("request %d: %d %v", i+1, r.status, r.body)
		}
	}
	r := call(t, url, http.MethodPost, body, withKey(nil))
	if r.status != 429 || r.body["code"] != "RATE_LIMITED" || r.header.Get("Retry-After") == "" {
		t.Errorf("request 4: %d %v %v", r.status, r.header, r.body)
	}
	if n := fake.Created(); n != 3 {
		t.Errorf("%d sandboxes made, want 3", n)
	}
}

// TestQuota: a caller past its plan's executions is refused with 429
// QUOTA_EXCEEDED, and nothing runs.
func TestQuota(t *testing.T) {
	t.Setenv("COMPUTEMW_RATE_FREE", "100")
	t.Setenv("COMPUTEMW_QUOTA_FREE", "2")
	fake := fakeprovider.New("fake")
	_, url := starterKit(t, fake)
	const body = `{"language":"python","code":"echo ok"}`
	for i := range 2 {
		if r := call(t, url, http.MethodPost, body, withKey(nil)); r.status != 200 {
			t.Fatalf("execution %d: %d %v", i+1, r.status, r.body)
		}
	}
	r := call(t, url, http.MethodPost, body, withKey(nil))
	if r.status != 429 || r.body["code"] != "QUOTA_EXCEEDED" {
		t.Errorf("execution 3: %d %v", r.status, r.body)
	}
	if n := fake.Created(); n != 2 {
		t.Errorf("%d sandboxes made, want 2", n)
	}
}

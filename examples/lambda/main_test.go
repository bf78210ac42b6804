package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/fakeprovider"
	"github.com/computemw/kit/providers/e2b"
	"github.com/computemw/kit/providers/e2b/e2bfake"
	computelambda "github.com/computemw/kit/transports/computelambda"
)

const apiKey = "starter-test-key"

var fixtures = []string{"apigw-rest-v1.json", "apigw-http-v2.json", "function-url.json"}

// bootstrap builds the function once for the start-up tests.
var bootstrap = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "computemw-lambda-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "bootstrap")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return "", errors.Join(err, errors.New(string(out)))
	}
	return bin, nil
})

func TestMain(m *testing.M) {
	code := m.Run()
	if bin, err := bootstrap(); err == nil {
		os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

// start runs the built function as Lambda would, with env added to the
// test's environment, and returns how it ended and what it logged.
func start(t *testing.T, env ...string) (int, string) {
	t.Helper()
	bin, err := bootstrap()
	if err != nil {
		t.Fatalf("go build: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(os.Environ(), append([]string{"E2B_API_KEY=", "DAYTONA_API_KEY=", "COMPUTEMW_JWT_SECRET=",
		"COMPUTEMW_API_KEY=", "COMPUTEMW_REDIS_URL=", "AWS_LAMBDA_RUNTIME_API=127.0.0.1:9"}, env...)...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("the function did not exit with an error: %v\n%s", err, out)
	}
	return exit.ExitCode(), string(out)
}

// TestStartWithoutProvider: without a remote provider the function fails
// at once with the message that says what to set.
func TestStartWithoutProvider(t *testing.T) {
	if code, out := start(t, "COMPUTEMW_API_KEY=k"); code != 1 || !strings.Contains(out, errNoProvider.Error()) {
		t.Errorf("exit %d\n%s", code, out)
	}
}

// TestStartWithoutAuthenticator: with a provider but no JWT secret and no
// API key the function refuses to start, saying what to set; a JWT secret
// too short to be safe is refused too.
func TestStartWithoutAuthenticator(t *testing.T) {
	if code, out := start(t, "E2B_API_KEY=e2b_test"); code != 1 || !strings.Contains(out, errNoAuth.Error()) {
		t.Errorf("without an authenticator: exit %d\n%s", code, out)
	}
	if code, out := start(t, "E2B_API_KEY=e2b_test", "COMPUTEMW_JWT_SECRET=short"); code != 1 || !strings.Contains(out, "at least 32") {
		t.Errorf("with a short JWT secret: exit %d\n%s", code, out)
	}
}

// reply is a response event of either format.
type reply struct {
	StatusCode        int                 `json:"statusCode"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Body              string              `json:"body"`
	body              map[string]any
}

func (r reply) header(name string) string {
	if v := r.MultiValueHeaders[name]; len(v) > 0 {
		return v[0]
	}
	return r.Headers[name]
}

// send invokes h with the fixture's event, changed to method, path and
// body, with header set when not empty.
func send(t *testing.T, h *computelambda.Handler, file, method, path, body string, header map[string]string) reply {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "transports", "computelambda", "testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	rc := ev["requestContext"].(map[string]any)
	headers := ev["headers"].(map[string]any)
	if _, v1 := ev["httpMethod"]; v1 {
		ev["httpMethod"], rc["httpMethod"], ev["path"] = method, method, path
		mv := ev["multiValueHeaders"].(map[string]any)
		for k, v := range header {
			headers[k], mv[k] = v, []any{v}
		}
	} else {
		http := rc["http"].(map[string]any)
		http["method"], http["path"], ev["rawPath"] = method, path, path
		delete(headers, "content-length")
		for k, v := range header {
			headers[strings.ToLower(k)] = v
		}
	}
	ev["body"] = body
	payload, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.Invoke(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	var r reply
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(r.Body), &r.body); err != nil {
		t.Fatalf("%s %s: %d %q: %v", method, path, r.StatusCode, r.Body, err)
	}
	return r
}

var withKey = map[string]string{"X-API-Key": apiKey}

// starterKit builds the function's kit over prov from the environment,
// with the test's API key.
func starterKit(t *testing.T, prov computemw.Provider) *computemw.Kit {
	t.Helper()
	t.Setenv("COMPUTEMW_API_KEY", apiKey)
	t.Setenv("COMPUTEMW_JWT_SECRET", "")
	t.Setenv("COMPUTEMW_REDIS_URL", "")
	kit, err := newKit(context.Background(), prov)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kit.Close(context.Background()) })
	return kit
}

// TestEvents runs the function's handler, with the fake provider in place
// of a remote one, on the events of an API Gateway REST API, an HTTP API
// and a function URL: the guide's request and response with the API key,
// 401 without it, 405 for GET.
func TestEvents(t *testing.T) {
	t.Setenv("COMPUTEMW_ALLOWED_ORIGINS", "https://app.example.com")
	t.Setenv("COMPUTEMW_RATE_FREE", "100")
	fake := fakeprovider.New("fake")
	h := newHandler(starterKit(t, fake))
	for _, file := range fixtures {
		t.Run(file, func(t *testing.T) {
			const body = `{"language":"python","code":"echo hi"}`
			r := send(t, h, file, "POST", "/api/execute", body, withKey)
			if r.StatusCode != 200 || r.body["output"] != "hi\n" || r.body["stderr"] != "" || r.body["executionTime"] == nil {
				t.Errorf("POST: %d %s", r.StatusCode, r.Body)
			}
			if acao := r.header("Access-Control-Allow-Origin"); acao != "https://app.example.com" {
				t.Errorf("Access-Control-Allow-Origin %q", acao)
			}
			if r = send(t, h, file, "POST", "/api/execute", body, nil); r.StatusCode != 401 || r.body["code"] != "UNAUTHORIZED" {
				t.Errorf("POST without the key: %d %s", r.StatusCode, r.Body)
			}
			if r = send(t, h, file, "GET", "/api/execute", "", withKey); r.StatusCode != 405 || r.body["code"] != "METHOD_NOT_ALLOWED" {
				t.Errorf("GET: %d %s", r.StatusCode, r.Body)
			}
		})
	}
	if n := fake.Created(); n != int64(len(fixtures)) {
		t.Errorf("%d sandboxes made, want %d (one per authenticated execution)", n, len(fixtures))
	}
}

// TestNothingOutlivesAnInvocation serves 21 executions on E2B (its
// contract fake): the moment each invocation answers, no sandbox is alive,
// neither in the kit nor at the vendor — a function is frozen then, and a
// sandbox alive at that moment lives on at the operator's expense.
func TestNothingOutlivesAnInvocation(t *testing.T) {
	t.Setenv("COMPUTEMW_RATE_FREE", "100")
	fake := e2bfake.New(t)
	prov, err := e2b.New(fake.Options())
	if err != nil {
		t.Fatal(err)
	}
	kit := starterKit(t, prov)
	h := newHandler(kit)
	alive, answered := 0, 0
	for i := range 21 {
		r := send(t, h, fixtures[i%len(fixtures)], "POST", "/api/exec", `{"command":"echo once"}`, withKey)
		kitLive, vendorLive := kit.Stats().Live, len(fake.Live())
		if r.StatusCode != 200 || r.body["output"] != "once\n" {
			t.Fatalf("invocation %d: %d %s", i, r.StatusCode, r.Body)
		}
		answered++
		if kitLive != 0 || vendorLive != 0 {
			alive++
		}
	}
	if alive != 0 {
		t.Errorf("%d of %d invocations answered with a sandbox alive", alive, answered)
	}
}

// TestRateLimit: a caller past its tier's requests in the window is
// refused with 429 RATE_LIMITED and Retry-After, and nothing runs.
func TestRateLimit(t *testing.T) {
	t.Setenv("COMPUTEMW_RATE_FREE", "3")
	fake := fakeprovider.New("fake")
	h := newHandler(starterKit(t, fake))
	for i := range 3 {
		if r := send(t, h, fixtures[i], "POST", "/api/exec", `{"command":"echo ok"}`, withKey); r.StatusCode != 200 {
			t.Fatalf("request %d: %d %s", i+1, r.StatusCode, r.Body)
		}
	}
	r := send(t, h, fixtures[0], "POST", "/api/exec", `{"command":"echo ok"}`, withKey)
	if r.StatusCode != 429 || r.body["code"] != "RATE_LIMITED" || r.header("Retry-After") == "" {
		t.Errorf("request 4: %d %v %s", r.StatusCode, r.Headers, r.Body)
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
	h := newHandler(starterKit(t, fake))
	for i := range 2 {
		if r := send(t, h, fixtures[i], "POST", "/api/exec", `{"command":"echo ok"}`, withKey); r.StatusCode != 200 {
			t.Fatalf("execution %d: %d %s", i+1, r.StatusCode, r.Body)
		}
	}
	r := send(t, h, fixtures[2], "POST", "/api/exec", `{"command":"echo ok"}`, withKey)
	if r.StatusCode != 429 || r.body["code"] != "QUOTA_EXCEEDED" {
		t.Errorf("execution 3: %d %s", r.StatusCode, r.Body)
	}
	if n := fake.Created(); n != 2 {
		t.Errorf("%d sandboxes made, want 2", n)
	}
}

// TestSessionsNeedAStore: without a shared session store the session
// routes answer 404 NOT_FOUND with the message saying why, and make no
// sandbox: a session would outlive the invocation with nothing to end it.
func TestSessionsNeedAStore(t *testing.T) {
	t.Setenv("COMPUTEMW_RATE_FREE", "100")
	fake := fakeprovider.New("fake")
	h := newHandler(starterKit(t, fake))
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/api/sandboxes", `{"timeout":86400000}`},
		{"GET", "/api/sandboxes", ""},
		{"GET", "/api/sandboxes/sb-1", ""},
		{"POST", "/api/sandboxes/sb-1/keepalive", ""},
		{"POST", "/api/sandboxes/sb-1/exec", `{"command":"echo x"}`},
		{"DELETE", "/api/sandboxes/sb-1", ""},
	} {
		for _, file := range fixtures {
			r := send(t, h, file, tc.method, tc.path, tc.body, withKey)
			if r.StatusCode != 404 || r.body["code"] != "NOT_FOUND" || r.body["error"] != errNoSessions.Message {
				t.Errorf("%s %s (%s): %d %s", tc.method, tc.path, file, r.StatusCode, r.Body)
			}
		}
	}
	if n := fake.Created(); n != 0 {
		t.Errorf("%d sandboxes made", n)
	}
}

// TestBearerToken: with COMPUTEMW_JWT_SECRET alone, a caller with a token
// signed by it runs code, and one signed by another secret gets 401.
func TestBearerToken(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef"
	t.Setenv("COMPUTEMW_JWT_SECRET", secret)
	t.Setenv("COMPUTEMW_API_KEY", "")
	t.Setenv("COMPUTEMW_REDIS_URL", "")
	fake := fakeprovider.New("fake")
	kit, err := newKit(context.Background(), fake)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kit.Close(context.Background()) })
	h := newHandler(kit)
	token := func(key string) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"sub": "alice", "plan": "free", "exp": time.Now().Add(time.Hour).Unix(),
		}).SignedString([]byte(key))
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + s
	}
	r := send(t, h, fixtures[0], "POST", "/api/exec", `{"command":"echo jwt"}`, map[string]string{"Authorization": token(secret)})
	if r.StatusCode != 200 || r.body["output"] != "jwt\n" {
		t.Errorf("signed with the secret: %d %s", r.StatusCode, r.Body)
	}
	r = send(t, h, fixtures[0], "POST", "/api/exec", `{"command":"echo jwt"}`, map[string]string{"Authorization": token(secret + "x")})
	if r.StatusCode != 401 || r.body["code"] != "UNAUTHORIZED" {
		t.Errorf("signed with another secret: %d %s", r.StatusCode, r.Body)
	}
}

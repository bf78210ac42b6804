package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/goleak"

	"github.com/computemw/kit/internal/workerdtest"
	"github.com/computemw/kit/providers/daytona/daytonafake"
	"github.com/computemw/kit/providers/e2b/e2bfake"
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, built := range []func() (string, error){worker, daytonaWorker} {
		if dir, err := built(); dir != "" {
			os.RemoveAll(dir)
		} else if err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// worker builds the Worker once, as main.go says: the Go main with
// GOOS=js GOARCH=wasm, beside it Go's wasm_exec.js, cfworker.mjs and an
// entry module. It returns the directory that holds them.
var worker = sync.OnceValues(func() (string, error) { return workerdtest.Build(".") })

// daytonaWorker is the Worker built with -tags daytona.
var daytonaWorker = sync.OnceValues(func() (string, error) { return workerdtest.Build(".", "daytona") })

// TestBuildWasm: the starter builds for GOOS=js GOARCH=wasm (make test
// runs this everywhere); it logs the size Cloudflare's limits apply to,
// the gzip-compressed one.
func TestBuildWasm(t *testing.T) {
	for _, b := range []struct {
		name  string
		built func() (string, error)
	}{{"E2B", worker}, {"Daytona (-tags daytona)", daytonaWorker}} {
		dir, err := b.built()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(filepath.Join(dir, "build", "app.wasm"))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("app.wasm with %s: %d bytes, %d gzip-compressed (Cloudflare: 3 MB free, 10 MB paid)", b.name, len(raw), gzipSize(t, raw))
	}
}

// fakeEndpoint is where the fake listens and the certificate it shows,
// found by one TLS handshake through the client the fake hands out.
func fakeEndpoint(t *testing.T, fake *e2bfake.Fake) (addr string, certPEM string) {
	t.Helper()
	tr := fake.Client().Transport.(*http.Transport)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := tr.DialContext(ctx, "tcp", "api."+e2bfake.Domain+":443")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cfg := tr.TLSClientConfig.Clone()
	cfg.ServerName = "api." + e2bfake.Domain
	// TLS 1.2 ends the handshake on both sides before this one returns,
	// so closing the connection is no error of the fake's.
	cfg.MaxVersion = tls.VersionTLS12
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		t.Fatal(err)
	}
	cert := tc.ConnectionState().PeerCertificates[0]
	return conn.RemoteAddr().String(), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
}

// startWorkerd runs the built Worker on workerd with the given text
// bindings (its vars and secrets), every fetch it makes going to the fake,
// and returns its base URL. It is stopped when t ends.
func startWorkerd(t *testing.T, fake *e2bfake.Fake, bindings map[string]string) string {
	t.Helper()
	workerdtest.Binary(t)
	dir, err := worker()
	if err != nil {
		t.Fatal(err)
	}
	addr, certPEM := fakeEndpoint(t, fake)
	return workerdtest.Start(t, dir, bindings, workerdtest.Outbound{Addr: addr, CertPEM: certPEM, CertHost: "api." + e2bfake.Domain})
}

// post sends body to url with the bearer token when not empty and
// returns the status and the decoded JSON answer.
func post(t *testing.T, url, token, body string) (int, map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("POST %s: %d %q: %v", url, resp.StatusCode, raw, err)
	}
	return resp.StatusCode, out
}

const jwtSecret = "cfworker-test-secret-of-at-least-32-bytes"

func token(t *testing.T, sub string) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": sub, "plan": "free", "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(jwtSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestWorkerd runs the built Worker on workerd, Cloudflare's runtime, in
// front of the E2B contract fake: POST /api/execute without a token is 401
// and makes nothing; with one the code runs in an E2B sandbox reached
// through the Worker's fetch, and the sandbox is gone when the answer
// arrives.
func TestWorkerd(t *testing.T) {
	fake := e2bfake.New(t)
	base := startWorkerd(t, fake, map[string]string{
		"E2B_API_KEY":          fake.APIKey(),
		"E2B_DOMAIN":           e2bfake.Domain,
		"COMPUTEMW_JWT_SECRET": jwtSecret,
		"COMPUTEMW_RATE_FREE":  "2",
		"COMPUTEMW_QUOTA_FREE": "1",
	})
	const body = `{"language":"bash","code":"echo hi"}`

	status, out := post(t, base+"/api/execute", "", body)
	if status != http.StatusUnauthorized || out["code"] != "UNAUTHORIZED" {
		t.Errorf("without a token: %d %v", status, out)
	}
	if n := fake.Created(); n != 0 {
		t.Errorf("%d sandboxes made for an unauthenticated call", n)
	}

	status, out = post(t, base+"/api/execute", token(t, "alice"), body)
	if status != http.StatusOK || out["output"] != "hi\n" || out["success"] != true {
		t.Fatalf("with a token: %d %v", status, out)
	}
	if n := fake.Created(); n != 1 {
		t.Errorf("%d sandboxes made, want 1", n)
	}
	// Config.DestroyBeforeReturn: the sandbox was killed before the answer.
	if live := fake.Live(); len(live) != 0 {
		t.Errorf("sandboxes live after the answer: %v", live)
	}

	// Each request runs in a Go instance of its own; the rate limit and
	// the quota count across them, in the isolate's memory.
	alice := token(t, "alice")
	if status, out = post(t, base+"/api/execute", alice, body); status != http.StatusTooManyRequests || out["code"] != "QUOTA_EXCEEDED" {
		t.Errorf("past the quota of 1 execution: %d %v", status, out)
	}
	if status, out = post(t, base+"/api/execute", alice, body); status != http.StatusTooManyRequests || out["code"] != "RATE_LIMITED" {
		t.Errorf("past the rate limit of 2 requests: %d %v", status, out)
	}
	if n := fake.Created(); n != 1 {
		t.Errorf("%d sandboxes made, want 1 (none past a limit)", n)
	}

	// What cannot work in a Worker is refused, before anything is made.
	bob := token(t, "bob")
	if status, out = post(t, base+"/api/sandboxes", bob, `{"language":"bash"}`); status != http.StatusNotFound || out["code"] != "NOT_FOUND" ||
		!strings.Contains(fmt.Sprint(out["error"]), "sessions are not available") {
		t.Errorf("POST /api/sandboxes: %d %v", status, out)
	}
	if n := fake.Created(); n != 1 {
		t.Errorf("%d sandboxes made, want 1", n)
	}
}

// TestWorkerdDaytona runs the Worker built with -tags daytona on workerd
// in front of the Daytona contract fake: the execution runs in a Daytona
// sandbox reached through the Worker's fetch, and the sandbox is gone when
// the answer arrives.
func TestWorkerdDaytona(t *testing.T) {
	workerdtest.Binary(t)
	fake := daytonafake.New(t, daytonafake.Options{})
	dir, err := daytonaWorker()
	if err != nil {
		t.Fatal(err)
	}
	base := workerdtest.Start(t, dir, map[string]string{
		"DAYTONA_API_KEY":      fake.APIKey,
		"DAYTONA_API_URL":      fake.URL,
		"COMPUTEMW_JWT_SECRET": jwtSecret,
	}, workerdtest.Outbound{Addr: strings.TrimPrefix(strings.TrimSuffix(fake.URL, "/api"), "http://")})
	const body = `{"language":"python","code":"print('hi')"}`
	if status, out := post(t, base+"/api/execute", "", body); status != http.StatusUnauthorized {
		t.Errorf("without a token: %d %v", status, out)
	}
	status, out := post(t, base+"/api/execute", token(t, "alice"), body)
	if status != http.StatusOK || out["output"] != "hi\n" {
		t.Fatalf("with a token: %d %v", status, out)
	}
	if n := fake.Made(); n != 1 {
		t.Errorf("%d sandboxes made, want 1", n)
	}
	if live := fake.Live(); len(live) != 0 {
		t.Errorf("sandboxes live after the answer: %v", live)
	}
}

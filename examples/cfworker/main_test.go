package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"

	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/goleak"

	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/providers/e2b/e2bfake"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if dir, err := worker(); err == nil {
		os.RemoveAll(dir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// worker builds the Worker once, as its README says: the Go main with
// GOOS=js GOARCH=wasm, beside it Go's wasm_exec.js, the package's
// cfworker.mjs and the starter's worker.mjs. It returns the directory that
// holds them.
var worker = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "computemw-cfworker-")
	if err != nil {
		return "", err
	}
	build := filepath.Join(dir, "build")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(build, "app.wasm"), ".")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		return dir, fmt.Errorf("GOOS=js GOARCH=wasm go build: %w\n%s", err, out)
	}
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return dir, fmt.Errorf("go env GOROOT: %w", err)
	}
	for src, dst := range map[string]string{
		filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "wasm_exec.js"): filepath.Join(build, "wasm_exec.js"),
		filepath.Join("..", "..", "transports", "cfworker", "cfworker.mjs"):             filepath.Join(build, "cfworker.mjs"),
		"worker.mjs": filepath.Join(dir, "worker.mjs"),
	} {
		b, err := os.ReadFile(src)
		if err != nil {
			return dir, err
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return dir, err
		}
	}
	return dir, nil
})

// TestBuildWasm: the starter builds for GOOS=js GOARCH=wasm (make test
// runs this everywhere); it logs the size Cloudflare's limits apply to,
// the gzip-compressed one.
func TestBuildWasm(t *testing.T) {
	dir, err := worker()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "build", "app.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("app.wasm: %d bytes, %d gzip-compressed (Cloudflare: 3 MB free, 10 MB paid)", len(raw), gzipSize(t, raw))
}

// workerdPath is the workerd binary scripts/setup-node-workerd.sh
// installs (make setup-test).
func workerdPath(t *testing.T) string {
	t.Helper()
	bin := filepath.Join("..", "..", ".cache", "workerd", "node_modules", "@cloudflare", "workerd-linux-64", "bin", "workerd")
	_, err := os.Stat(bin)
	computemwtest.Require(t, err == nil, "workerd is not installed (make setup-test installs it into .cache/workerd)")
	abs, err := filepath.Abs(bin)
	if err != nil {
		t.Fatal(err)
	}
	return abs
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
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		t.Fatal(err)
	}
	cert := tc.ConnectionState().PeerCertificates[0]
	return conn.RemoteAddr().String(), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
}

// capnpString quotes s for a Cap'n Proto config.
func capnpString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// startWorkerd runs the built Worker on workerd with the given text
// bindings (its vars and secrets), every fetch it makes going to the fake
// (its globalOutbound), and returns its base URL. It is stopped when t
// ends.
func startWorkerd(t *testing.T, fake *e2bfake.Fake, bindings map[string]string) string {
	t.Helper()
	bin := workerdPath(t)
	dir, err := worker()
	if err != nil {
		t.Fatal(err)
	}
	addr, certPEM := fakeEndpoint(t, fake)
	var binds []string
	for name, value := range bindings {
		binds = append(binds, fmt.Sprintf("(name = %s, text = %s)", capnpString(name), capnpString(value)))
	}
	config := fmt.Sprintf(`using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "provider", external = (address = %s, https = (
      options = (),
      tlsOptions = (trustedCertificates = [%s]),
      certificateHost = %s))),
  ],
  sockets = [ (name = "http", http = (), service = "main") ],
);
const worker :Workerd.Worker = (
  modules = [
    (name = "worker.mjs", esModule = embed "worker.mjs"),
    (name = "build/cfworker.mjs", esModule = embed "build/cfworker.mjs"),
    (name = "build/wasm_exec.js", esModule = embed "build/wasm_exec.js"),
    (name = "build/app.wasm", wasm = embed "build/app.wasm"),
  ],
  compatibilityDate = "2026-11-01",
  globalOutbound = "provider",
  bindings = [ %s ],
);
`, capnpString(addr), capnpString(certPEM), capnpString("api."+e2bfake.Domain), strings.Join(binds, ", "))
	// Embedded files are found relative to the config.
	cfg, err := os.CreateTemp(dir, "config-*.capnp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(cfg.Name()) })
	_, err = cfg.WriteString(config)
	if cerr := cfg.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	// The test listens and hands the socket to workerd: requests wait in
	// its backlog until workerd serves them.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(bin, "serve", cfg.Name(), "--socket-fd=http=3")
	cmd.Dir = dir
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.ExtraFiles = []*os.File{f}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("workerd's log:\n%s", logs.String())
		}
	})
	return "http://" + ln.Addr().String()
}

// syncBuffer is a bytes.Buffer for a process's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
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

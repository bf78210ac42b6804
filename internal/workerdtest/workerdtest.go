// Package workerdtest runs Go programs as Cloudflare Workers on workerd,
// Cloudflare's open-source Workers runtime, for tests: it builds a Go main
// with GOOS=js GOARCH=wasm beside Go's wasm_exec.js, the cfworker.mjs of
// transports/cfworker and an entry module, and serves it with `workerd
// serve` and a config of its own, on a loopback socket the test opens.
// workerd is the one scripts/setup-node-workerd.sh installs into
// .cache/workerd (make setup-test); without it a test skips, or fails
// under CI=true.
package workerdtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/computemw/kit/computemw/computemwtest"
)

// entry is the Worker's module: every request goes to the Go program.
const entry = `import { serve } from "./build/cfworker.mjs";
import program from "./build/app.wasm";
export default { fetch: (request, env, ctx) => serve(program, request, env, ctx) };
`

// Build builds the Go main in pkgDir for js/wasm (with -trimpath and
// -ldflags='-s -w', as for deployment) into a new directory laid out as a
// Worker: worker.mjs, build/app.wasm, build/wasm_exec.js and
// build/cfworker.mjs. The caller removes the directory.
func Build(pkgDir string, tags ...string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "computemw-worker-")
	if err != nil {
		return "", err
	}
	build := filepath.Join(dir, "build")
	args := []string{"build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(build, "app.wasm")}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Dir = pkgDir
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
		filepath.Join(root, "transports", "cfworker", "cfworker.mjs"):                   filepath.Join(build, "cfworker.mjs"),
	} {
		b, err := os.ReadFile(src)
		if err != nil {
			return dir, err
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return dir, err
		}
	}
	return dir, os.WriteFile(filepath.Join(dir, "worker.mjs"), []byte(entry), 0o644)
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("workerdtest: not in a module")
	}
	return filepath.Dir(mod), nil
}

// Binary is the workerd that make setup-test installs; the test skips
// without it (fails under CI=true).
func Binary(t testing.TB) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, ".cache", "workerd", "node_modules", "@cloudflare", "workerd-linux-64", "bin", "workerd")
	_, err = os.Stat(bin)
	computemwtest.Require(t, err == nil, "workerd is not installed (make setup-test installs it into .cache/workerd)")
	return bin
}

// Outbound is the server every fetch of the Worker reaches (its
// globalOutbound), whatever the URL's host: the Host header is kept.
type Outbound struct {
	// Addr is the server's host:port on loopback.
	Addr string
	// CertPEM, when set, is the certificate the server shows over TLS,
	// trusted for CertHost; empty: plain HTTP.
	CertPEM, CertHost string
}

// Start serves the Worker in dir (from Build) on workerd, with bindings
// as its text bindings (the program's environment) and every fetch going
// to out, and returns its base URL. workerd is stopped when t ends; its
// log is printed when t failed.
func Start(t testing.TB, dir string, bindings map[string]string, out Outbound) string {
	t.Helper()
	bin := Binary(t)
	var binds []string
	for name, value := range bindings {
		binds = append(binds, fmt.Sprintf("(name = %s, text = %s)", quote(name), quote(value)))
	}
	proto := "http = ()"
	if out.CertPEM != "" {
		proto = fmt.Sprintf("https = (options = (), tlsOptions = (trustedCertificates = [%s]), certificateHost = %s)",
			quote(out.CertPEM), quote(out.CertHost))
	}
	config := fmt.Sprintf(`using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "outbound", external = (address = %s, %s)),
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
  globalOutbound = "outbound",
  bindings = [ %s ],
);
`, quote(out.Addr), proto, strings.Join(binds, ", "))
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
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
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

// quote quotes s for a Cap'n Proto config.
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
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

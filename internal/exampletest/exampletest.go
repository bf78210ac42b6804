// Package exampletest builds and runs an example server the way a user
// would (go build, then the binary with PORT set), for the examples' tests.
package exampletest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/computemw/kit/computemw/computemwtest"
)

// Server is a running example.
type Server struct {
	// URL is the base URL, http://127.0.0.1:PORT.
	URL string
	// TempDir is the example's TMPDIR, which holds its sandboxes.
	TempDir string
	cmd     *exec.Cmd
	exited  chan error
	logs    *logBuffer
}

// Start builds the example package (an import path such as
// "github.com/computemw/kit/examples/nethttp") and runs it on a free
// loopback port, with its own TMPDIR, until it logs that it is ready. The
// server is killed at cleanup if the test did not stop it.
func Start(t *testing.T, pkg string, env ...string) *Server {
	t.Helper()
	return start(t, pkg, -1, env)
}

// StartAs is Start with the example running as the user uid (group uid
// too), as a server started by an ordinary user: its binary and TMPDIR are
// made reachable by that user, and its HOME and cache directory are the
// TMPDIR. The caller must be root.
func StartAs(t *testing.T, pkg string, uid int, env ...string) *Server {
	t.Helper()
	return start(t, pkg, uid, env)
}

func start(t *testing.T, pkg string, uid int, env []string) *Server {
	t.Helper()
	_, err := exec.LookPath("bwrap")
	computemwtest.Require(t, err == nil, "bubblewrap (bwrap) is not installed")

	binDir := t.TempDir()
	bin := filepath.Join(binDir, "example")
	build := exec.Command("go", "build", "-o", bin, pkg)
	build.Dir = moduleRoot() // the kit's own go.mod, also from a test module in the repository
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()

	// Sandboxes run as an unprivileged uid that must reach the workspaces:
	// the example's TMPDIR is searchable by everyone.
	tmp, err := os.MkdirTemp("", "computemw-example-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tmp, 0o711); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	var extra []string
	if uid >= 0 {
		if err := errors.Join(os.Chmod(filepath.Dir(binDir), 0o711), os.Chmod(binDir, 0o755), os.Chown(tmp, uid, uid), os.Chmod(tmp, 0o700)); err != nil {
			t.Fatal(err)
		}
		extra = []string{"HOME=" + tmp, "XDG_CACHE_HOME=" + tmp}
	}

	s := &Server{URL: "http://127.0.0.1:" + port, TempDir: tmp, exited: make(chan error, 1), logs: &logBuffer{}}
	s.cmd = exec.Command(bin)
	s.cmd.Env = append(os.Environ(), append(append([]string{"PORT=" + port, "ADDR=", "TMPDIR=" + tmp}, extra...), env...)...)
	if uid >= 0 {
		s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	}
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stdout = s.cmd.Stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			s.logs.add(line)
			if !signalled && strings.Contains(line, "ready") {
				signalled = true
				close(ready)
			}
		}
		s.exited <- s.cmd.Wait()
	}()
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			_ = s.cmd.Process.Kill()
		}
	})
	select {
	case <-ready:
	case err := <-s.exited:
		t.Fatalf("example exited before it was ready: %v\n%s", err, s.Logs())
	case <-time.After(60 * time.Second):
		t.Fatalf("example not ready after 60s\n%s", s.Logs())
	}
	return s
}

// moduleRoot is the directory of the kit's go.mod: the examples are built
// with the kit's requirements wherever the test that starts them lives.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Stop sends SIGTERM and waits for a clean exit, then checks that the
// example left no sandbox workspace behind.
func (s *Server) Stop(t *testing.T) {
	t.Helper()
	s.Signal(t, syscall.SIGTERM)
	s.Wait(t)
}

// Signal sends sig to the example.
func (s *Server) Signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// Wait waits for the example to exit cleanly, then checks that it left no
// sandbox workspace behind. The local provider removes a sandbox's cgroup
// only once no process is left in it, and fails Close otherwise, so a clean
// exit with nothing left also means no sandboxed process survived.
func (s *Server) Wait(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	select {
	case err := <-s.exited:
		if err != nil {
			t.Fatalf("example did not exit cleanly: %v\n%s", err, s.Logs())
		}
	case <-ctx.Done():
		t.Fatalf("example did not stop after SIGTERM\n%s", s.Logs())
	}
	entries, _ := os.ReadDir(filepath.Join(s.TempDir, "computemw-local"))
	if len(entries) != 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("example left %v behind", names)
	}
}

// Logs is what the example printed so far.
func (s *Server) Logs() string {
	s.logs.mu.Lock()
	defer s.logs.mu.Unlock()
	return s.logs.b.String()
}

// logBuffer collects the example's output lines while tests read it.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(line + "\n")
}

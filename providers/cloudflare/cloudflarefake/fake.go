// Package cloudflarefake is a contract fake of Cloudflare's Sandbox HTTP
// bridge (github.com/cloudflare/sandbox-sdk, bridge/worker) for tests: an
// httptest server that serves the bridge's routes, validates every
// request against the bridge's own OpenAPI document (unknown fields and
// undeclared query parameters refused) and checks its own answers
// against it too (recording every exchange, see [Server.Exchanges]).
//
// It behaves as the bridge does (packages/sandbox/src/bridge/routes.ts):
// POST /v1/sandbox only hands out an ID; the first call on an ID starts
// its "container" (a directory of this host whose /workspace is a
// subdirectory); exec joins argv with the bridge's quoting and runs it
// with bash -c, really, streaming stdout and stderr as base64 server-sent
// events and ending with exit or error; files resolve under /workspace
// (403 outside it); DELETE /v1/sandbox/{id} ends everything and answers
// 204 for any ID; sessions hold a working directory and environment, and
// each has at most one PTY (a real pseudo-terminal behind a WebSocket,
// kept when the client disconnects, ended with its session).
//
// Its books ([Server.Live], [Server.Running], [Server.PTYs]) show what is
// left, and faults can be injected ([Fault]): statuses with Retry-After,
// redirects, connection resets (also in the middle of an exec stream),
// slow streams, and answers held until the test lets them go (a create
// that succeeds after the client gave up).
package cloudflarefake

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/computemw/kit/providers/cloudflare"
	"github.com/computemw/kit/providers/internal/fakekit"
)

// APIKey is the key the fake accepts.
const APIKey = "cf-test-key-0123456789"

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	// URL is the bridge's base URL, for cloudflare.Options.URL.
	URL string

	t    testing.TB
	srv  *httptest.Server
	root string

	mu        sync.Mutex
	sandboxes map[string]*sandbox // containers started, by sandbox ID
	issued    map[string]bool     // IDs handed out
	faults    fakekit.Faults[Fault]
	calls     map[string]int
	exchanges []Exchange
	closing   chan struct{}
	handlers  sync.WaitGroup
}

// New starts a fake, stopped with t.Cleanup (which also ends every process
// and removes every directory it made).
func New(t testing.TB) *Server {
	t.Helper()
	if _, err := loadSpec(); err != nil {
		t.Fatalf("cloudflarefake: loading the bridge's OpenAPI document: %v", err)
	}
	root, err := os.MkdirTemp("", "cloudflarefake-")
	if err != nil {
		t.Fatal(err)
	}
	root, _ = filepath.EvalSymlinks(root)
	s := &Server{t: t, root: root, sandboxes: map[string]*sandbox{}, issued: map[string]bool{},
		calls: map[string]int{}, closing: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.close)
	return s
}

// Options returns provider options for the fake: its URL and key, a client
// of its own, and short retry delays.
func (s *Server) Options() cloudflare.Options {
	return cloudflare.Options{
		URL: s.URL, APIKey: APIKey,
		HTTPClient: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()},
		RetryBase:  time.Millisecond, RetryMax: 50 * time.Millisecond,
		CreateTimeout: 30 * time.Second,
	}
}

func (s *Server) close() {
	close(s.closing)
	s.mu.Lock()
	all := make([]*sandbox, 0, len(s.sandboxes))
	for _, sb := range s.sandboxes {
		all = append(all, sb)
	}
	s.sandboxes = map[string]*sandbox{}
	s.mu.Unlock()
	for _, sb := range all {
		sb.destroy()
	}
	s.srv.CloseClientConnections()
	s.srv.Close()
	s.handlers.Wait()
	_ = os.RemoveAll(s.root)
}

// Live returns the IDs of the sandboxes whose container runs, sorted.
func (s *Server) Live() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.sandboxes))
	for id := range s.sandboxes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Issued reports whether the fake handed out id.
func (s *Server) Issued(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued[id]
}

// Running is the number of exec commands still running in all sandboxes.
func (s *Server) Running() int {
	n := 0
	for _, sb := range s.all() {
		n += sb.running()
	}
	return n
}

// PTYs is the number of pseudo-terminals still open in all sandboxes.
func (s *Server) PTYs() int {
	n := 0
	for _, sb := range s.all() {
		n += sb.ptys()
	}
	return n
}

// Sessions is the number of sessions of a live sandbox.
func (s *Server) Sessions(id string) int {
	s.mu.Lock()
	sb := s.sandboxes[id]
	s.mu.Unlock()
	if sb == nil {
		return 0
	}
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return len(sb.sessions)
}

// Workspace is the host directory that is a live sandbox's /workspace.
func (s *Server) Workspace(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sb := s.sandboxes[id]; sb != nil {
		return sb.workspace
	}
	return ""
}

func (s *Server) all() []*sandbox {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*sandbox, 0, len(s.sandboxes))
	for _, sb := range s.sandboxes {
		out = append(out, sb)
	}
	return out
}

// Calls is how many valid requests reached an operation (by its
// operationId in the bridge's document: "createSandbox", "execCommand",
// "readFile", ...).
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// AssertNoneLive fails t if a sandbox's container still runs, or a command
// or terminal of one.
func (s *Server) AssertNoneLive(t testing.TB) {
	t.Helper()
	if live := s.Live(); len(live) > 0 {
		t.Errorf("cloudflarefake: sandboxes left running: %v", live)
	}
}

// WaitIdle waits, within ctx, until no exec command and no PTY runs any
// more (a command whose client left runs to its end or timeout, as on the
// bridge).
func (s *Server) WaitIdle(ctx context.Context) error {
	for {
		if s.Running() == 0 && s.PTYs() == 0 {
			return nil
		}
		t := time.NewTimer(5 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("cloudflarefake: %d commands and %d terminals still running: %w", s.Running(), s.PTYs(), ctx.Err())
		case <-t.C:
		}
	}
}

// WaitNoneLive waits, within ctx, until no sandbox's container runs.
func (s *Server) WaitNoneLive(ctx context.Context) error {
	for len(s.Live()) > 0 {
		t := time.NewTimer(5 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("cloudflarefake: sandboxes still running: %v: %w", s.Live(), ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// newID is an ID as the bridge makes them: 16 random bytes in lowercase
// base32, 26 characters.
func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// container returns id's sandbox, starting its container if it has none
// (the bridge's pool middleware, for every route under /v1/sandbox/{id}/).
func (s *Server) container(id string) (*sandbox, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sb := s.sandboxes[id]; sb != nil {
		return sb, nil
	}
	dir, err := os.MkdirTemp(s.root, "sbx-")
	if err != nil {
		return nil, err
	}
	ws := filepath.Join(dir, "workspace")
	if err := os.Mkdir(ws, 0o755); err != nil {
		return nil, err
	}
	sb := &sandbox{id: id, dir: dir, workspace: ws, sessions: map[string]*session{}, cmds: map[*command]struct{}{}}
	s.sandboxes[id] = sb
	return sb, nil
}

// destroy ends id's container, if it has one.
func (s *Server) destroy(id string) {
	s.mu.Lock()
	sb := s.sandboxes[id]
	delete(s.sandboxes, id)
	s.mu.Unlock()
	if sb != nil {
		sb.destroy()
	}
}

// readAll reads a request body of at most 64 MiB.
func readAll(r io.Reader) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r, 64<<20))
}

// Package vercelfake is a contract fake of the Vercel Sandbox REST API for
// tests: an httptest server that implements the endpoints the vercel
// provider uses (create with POST /v3/sandboxes, the v2 session, command
// and filesystem endpoints, and the named-sandbox get, list and delete).
//
// It holds clients to the vendor's contract: every request must carry
// "Authorization: Bearer <token>" and the teamId query parameter, and is
// validated against the OpenAPI description derived from the vendor's
// TypeScript SDK (providers/vercel/internal/spec): a wrong path or method,
// an unknown field, an undeclared query parameter or a value in the wrong
// unit (a timeout in seconds where milliseconds are due) fails the test,
// and so does any call of the retired v1 API. Its own answers are checked
// against the same description, and every exchange is recorded (see
// [Server.Exchanges]).
//
// Commands really run (argv, on this host, in a temporary directory per
// sandbox, which is the session's working directory), and their output is
// streamed as the vendor streams it: application/x-ndjson lines. Terminals
// are real pseudo-terminals behind the controller's WebSocket protocol (the
// URL and token POST .../interactive answers). The fake keeps books of its
// sessions and processes ([Server.Live], [Server.Running]) so that tests
// assert nothing is left running, and injects faults ([Fault]): statuses
// with Retry-After, redirects, connection resets before an answer or in the
// middle of a stream, slow streams, and a create that succeeds after the
// client gave up.
package vercelfake

import (
	"encoding/json"
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

	"github.com/computemw/kit/providers/internal/fakekit"
	"github.com/computemw/kit/providers/internal/openapicheck"
)

// Options configure a [Server].
type Options struct {
	// Token, TeamID and ProjectID are the credentials clients must send;
	// defaults "test-token", "team_test" and "prj_test".
	Token, TeamID, ProjectID string
	// StartPolls is how many getSession answers say "pending" before a new
	// session says "running" (0: it runs at once).
	StartPolls int
	// OnCall, when set, is called with the operation ID of every valid
	// request before it is answered (for tests that act at a given step).
	OnCall func(op string)
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	// URL is the API's base URL, for vercel.Options.APIURL.
	URL string
	// Token, TeamID and ProjectID are the credentials the fake accepts.
	Token, TeamID, ProjectID string

	t    testing.TB
	srv  *httptest.Server
	root string
	opts Options

	mu        sync.Mutex
	sessions  map[string]*session // by ID, stopped ones included
	sandboxes map[string]*session // by sandbox name, the current session
	seq       int
	made      int
	faults    fakekit.Faults[Fault]
	calls     map[string]int
	tokens    map[string]string // interactive token -> session ID
	exchanges []Exchange
	late      sync.WaitGroup
	closing   chan struct{}
}

// New starts a fake, stopped with t.Cleanup (which also ends every process
// and removes every directory it made).
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Token == "" {
		opts.Token = "test-token"
	}
	if opts.TeamID == "" {
		opts.TeamID = "team_test"
	}
	if opts.ProjectID == "" {
		opts.ProjectID = "prj_test"
	}
	if _, err := loadSpec(); err != nil {
		t.Fatalf("vercelfake: loading the API description: %v", err)
	}
	root, err := os.MkdirTemp("", "vercelfake-")
	if err != nil {
		t.Fatal(err)
	}
	root, _ = filepath.EvalSymlinks(root)
	s := &Server{
		Token: opts.Token, TeamID: opts.TeamID, ProjectID: opts.ProjectID,
		t: t, root: root, opts: opts,
		sessions: map[string]*session{}, sandboxes: map[string]*session{}, calls: map[string]int{}, tokens: map[string]string{},
		closing: make(chan struct{}),
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL + "/api"
	t.Cleanup(s.close)
	return s
}

func (s *Server) close() {
	close(s.closing)
	s.late.Wait()
	s.mu.Lock()
	all := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		all = append(all, ss)
	}
	s.mu.Unlock()
	for _, ss := range all {
		ss.stop()
	}
	s.srv.CloseClientConnections()
	s.srv.Close()
	os.RemoveAll(s.root)
}

// Made is how many sandboxes the fake has created, stopped or not.
func (s *Server) Made() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.made
}

// Live returns the IDs of the sessions that are pending or running, sorted.
func (s *Server) Live() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id, ss := range s.sessions {
		if ss.status == "pending" || ss.status == "running" {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// Running is the number of commands still running in all sessions.
func (s *Server) Running() int {
	s.mu.Lock()
	all := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		all = append(all, ss)
	}
	s.mu.Unlock()
	n := 0
	for _, ss := range all {
		n += ss.running()
	}
	return n
}

// Calls is how many valid requests reached an operation (by its
// operationId in the description: "createSandbox", "runCommand", ...).
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// Created returns the decoded create request of a session's sandbox.
func (s *Server) Created(sessionID string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss := s.sessions[sessionID]; ss != nil {
		return ss.request
	}
	return nil
}

// Timeout is a session's timeout in milliseconds, as created and extended.
func (s *Server) Timeout(sessionID string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss := s.sessions[sessionID]; ss != nil {
		return ss.timeout
	}
	return 0
}

// WaitFor polls cond until it holds or the fake is closed or d passes.
func (s *Server) WaitFor(d time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			return cond()
		case <-s.closing:
			return cond()
		case <-tick.C:
		}
	}
	return true
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/interactive/") {
		s.interactive(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		return
	}
	rec := &fakekit.Recorder{ResponseWriter: w}
	var c checked
	s.answer(rec, r, body, &c)
	s.record(rec, r, &c)
}

// checked is what answer learnt of a request, for the check of its answer.
type checked struct {
	op      string
	match   *openapicheck.Match
	faulted bool
	problem string
}

// fail records a problem of the client's request and fails the test.
func (s *Server) fail(c *checked, format string, args ...any) {
	c.problem = fmt.Sprintf(format, args...)
	s.t.Errorf("vercelfake: %s", c.problem)
}

// answer validates a request and answers it.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, body []byte, c *checked) {
	p, ok := strings.CutPrefix(r.URL.Path, "/api")
	if !ok {
		s.fail(c, "%s %s: not under the API's base path /api", r.Method, r.URL.Path)
		writeErr(w, 404, "not_found", "no such route")
		return
	}
	if strings.HasPrefix(p, "/v1/") {
		s.fail(c, "%s %s: the v1 API is retired; use /v3/sandboxes and the v2 session endpoints", r.Method, r.URL.Path)
		writeErr(w, 410, "api_retired", "the v1 sandbox API is retired")
		return
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+s.Token {
		s.fail(c, "%s %s: wrong Authorization header (%d bytes), want \"Bearer <token>\"", r.Method, r.URL.Path, len(got))
		writeErr(w, 401, "unauthorized", "invalid token")
		return
	}
	if got := r.URL.Query()["teamId"]; len(got) != 1 || got[0] != s.TeamID {
		s.fail(c, "%s %s: teamId query %q, want the team's ID once", r.Method, r.URL.Path, got)
		writeErr(w, 403, "forbidden", "wrong team")
		return
	}
	m, err := spec.CheckRequest(r, p, body)
	if m != nil {
		c.op, c.match = m.Op, m
	}
	if err != nil {
		s.fail(c, "request not valid against the API description: %v", err)
		writeErr(w, 400, "bad_request", err.Error())
		return
	}
	s.mu.Lock()
	s.calls[m.Op]++
	f := s.takeFault(m.Op)
	s.mu.Unlock()
	if s.opts.OnCall != nil {
		s.opts.OnCall(m.Op)
	}
	c.faulted = f != nil && f.shapes()
	q := &request{w: w, r: r, op: m.Op, params: m.Params, body: body, fault: f}
	if f != nil && f.before(s, q) {
		return
	}
	s.dispatch(q)
}

// request is one validated call.
type request struct {
	w      http.ResponseWriter
	r      *http.Request
	op     string
	params map[string]string
	body   []byte
	fault  *Fault
}

func (q *request) query(name string) string { return q.r.URL.Query().Get(name) }

// decode decodes the JSON body strictly; the description's check has
// already refused unknown fields, so a failure here is the fake's own bug.
func (q *request) decode(v any) bool {
	dec := json.NewDecoder(strings.NewReader(string(q.body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeErr(q.w, 400, "bad_request", err.Error())
		return false
	}
	return true
}

func (s *Server) dispatch(q *request) {
	switch q.op {
	case "createSandbox":
		s.create(q)
	case "listSandboxes":
		s.list(q)
	case "getSandbox", "deleteSandbox":
		s.named(q)
	default:
		s.mu.Lock()
		ss := s.sessions[q.params["sessionId"]]
		s.mu.Unlock()
		if ss == nil {
			writeErr(q.w, 404, "not_found", "Session not found: "+q.params["sessionId"])
			return
		}
		s.sessionOp(q, ss)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeErr answers an error in the vendor's shape, {error:{code,message}}
// (base-client.ts, and the SDK's mock server's http.ts).
func writeErr(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func nowMs() int64 { return time.Now().UnixMilli() }

// Package daytonafake is a contract fake of the Daytona APIs for tests: an
// httptest server that implements the control-plane and toolbox endpoints
// the daytona provider uses, validates every request against the vendor's
// API descriptions (and fails the test on a wrong path, header, unit or
// unknown field), checks its own answers against them too (recording
// every exchange, see [Server.Exchanges]), really runs commands (sh -c in a temporary directory per
// sandbox, on this host), keeps books of live sandboxes and processes,
// and injects faults: statuses with Retry-After, redirects (as a toolbox,
// in the tenant's sandbox, may answer anything), connection resets,
// slow answers, a create that succeeds after the client gave up, and
// sandboxes that take several polls to start.
//
// The control plane is served under URL (.../api) and each sandbox's
// toolbox under .../toolbox/{sandboxId}, the sandbox's toolboxProxyUrl.
package daytonafake

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
	// APIKey is the key clients must send; default "test-key".
	APIKey string
	// StartPolls is how many getSandbox answers say "starting" before a
	// new sandbox says "started" (0: it is started at once).
	StartPolls int
	// StartState is the state a new sandbox reaches after StartPolls
	// (default "started"); "build_failed" or "error" make its start fail.
	StartState string
	// DestroyPolls is how many getSandbox answers after a delete still
	// show the sandbox, in state "destroying", before it is not found
	// (default 1; negative: none).
	DestroyPolls int
	// PageSize caps the items of one listSandboxes page below the
	// limit the client asks for (0: no cap), so that tests page.
	PageSize int
	// OnCall, when set, is called with the operationId of every valid
	// request before it is answered (for tests that act at a given step).
	OnCall func(op string)
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	// URL is the control-plane base URL, for daytona.Options.APIURL.
	URL string
	// APIKey is the key the fake accepts.
	APIKey string

	t    testing.TB
	srv  *httptest.Server
	root string
	opts Options

	mu        sync.Mutex
	sandboxes map[string]*sandbox // live, by ID
	seq       int
	made      int
	faults    fakekit.Faults[Fault]
	calls     map[string]int
	exchanges []Exchange
	late      sync.WaitGroup
	closing   chan struct{}
}

// New starts a fake, stopped with t.Cleanup (which also ends every process
// and removes every directory it made).
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.APIKey == "" {
		opts.APIKey = "test-key"
	}
	if opts.StartState == "" {
		opts.StartState = "started"
	}
	switch {
	case opts.DestroyPolls == 0:
		opts.DestroyPolls = 1
	case opts.DestroyPolls < 0:
		opts.DestroyPolls = 0
	}
	if _, _, err := validators(); err != nil {
		t.Fatalf("daytonafake: loading the vendor specs: %v", err)
	}
	root, err := os.MkdirTemp("", "daytonafake-")
	if err != nil {
		t.Fatal(err)
	}
	root, _ = filepath.EvalSymlinks(root)
	s := &Server{
		APIKey: opts.APIKey, t: t, root: root, opts: opts,
		sandboxes: map[string]*sandbox{}, calls: map[string]int{},
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
	all := make([]*sandbox, 0, len(s.sandboxes))
	for _, sb := range s.sandboxes {
		all = append(all, sb)
	}
	s.mu.Unlock()
	for _, sb := range all {
		sb.destroy()
	}
	s.srv.CloseClientConnections()
	s.srv.Close()
	os.RemoveAll(s.root)
}

// Root is the host directory under which sandboxes' directories live.
func (s *Server) Root() string { return s.root }

// Made is how many sandboxes the fake has created, deleted or not.
func (s *Server) Made() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.made
}

// Live returns the IDs of the sandboxes that exist and are not being
// destroyed, sorted.
func (s *Server) Live() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.sandboxes))
	for id, sb := range s.sandboxes {
		if sb.desiredState != "destroyed" {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// Running is the number of commands still running in all sandboxes.
func (s *Server) Running() int {
	s.mu.Lock()
	all := make([]*sandbox, 0, len(s.sandboxes))
	for _, sb := range s.sandboxes {
		all = append(all, sb)
	}
	s.mu.Unlock()
	n := 0
	for _, sb := range all {
		n += sb.running()
	}
	return n
}

// Calls is how many requests reached an operation (by its operationId in
// the vendor spec, e.g. "createSandbox" or "GetSessionCommandLogs").
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// Created returns the decoded create request of a live sandbox.
func (s *Server) Created(id string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sb := s.sandboxes[id]; sb != nil {
		return sb.request
	}
	return nil
}

// AutoStop is a live sandbox's auto-stop interval in minutes.
func (s *Server) AutoStop(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sb := s.sandboxes[id]; sb != nil {
		return sb.autoStop
	}
	return 0
}

// Activity is how many times a live sandbox's activity was refreshed.
func (s *Server) Activity(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sb := s.sandboxes[id]; sb != nil {
		return sb.activity
	}
	return 0
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
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
	match   *openapicheck.Match // the operation matched, with the fake's prefix taken off the path
	toolbox bool
	faulted bool
	problem string
}

// record checks an answer against the spec and keeps the exchange; a
// problem fails the test.
func (s *Server) record(w *fakekit.Recorder, r *http.Request, c *checked) {
	ex := Exchange{Op: c.op, Method: r.Method, Path: r.URL.Path, Status: w.Status, Faulted: c.faulted, Problem: c.problem}
	if w.Hijacked {
		ex.Status = 0
	}
	if ex.Problem == "" && c.match != nil && ex.Status != 0 && !w.Overflow {
		var err error
		if c.faulted {
			if ex.Status >= 400 {
				err = errorShape(c.op, c.toolbox, ex.Status, w.Body.Bytes())
			}
		} else {
			err = checkResponse(c.match, c.toolbox, ex.Status, w.Header(), w.Body.Bytes())
		}
		if err != nil {
			ex.Problem = err.Error()
			s.t.Errorf("daytonafake: answer not valid against the vendor spec: %v", err)
		} else {
			ex.Checked = true
		}
	}
	s.mu.Lock()
	s.exchanges = append(s.exchanges, ex)
	s.mu.Unlock()
}

// answer validates a request and answers it, noting in c what the check
// of the answer needs.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, body []byte, c *checked) {
	cp, tb, _ := validators()
	var (
		v    *validator
		p    string
		sbID string
	)
	switch {
	case strings.HasPrefix(r.URL.Path, "/api/"):
		v, p = cp, strings.TrimPrefix(r.URL.Path, "/api")
	case strings.HasPrefix(r.URL.Path, "/toolbox/"):
		id, sub, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/toolbox/"), "/")
		if !ok {
			c.problem = "no toolbox endpoint"
			s.t.Errorf("daytonafake: %s %s: no toolbox endpoint after the sandbox ID", r.Method, r.URL.Path)
			writeErr(w, r, 404, "not found")
			return
		}
		v, p, sbID = tb, "/"+sub, id
		c.toolbox = true
	default:
		c.problem = "neither the control plane nor a toolbox"
		s.t.Errorf("daytonafake: %s %s: neither the control plane (/api) nor a toolbox (/toolbox/{id})", r.Method, r.URL.Path)
		writeErr(w, r, 404, "not found")
		return
	}
	if got, want := r.Header.Get("Authorization"), "Bearer "+s.APIKey; got != want {
		c.problem = "wrong Authorization header"
		s.t.Errorf("daytonafake: %s %s: wrong Authorization header (%d bytes), want \"Bearer <key>\"", r.Method, r.URL.Path, len(got))
		writeErr(w, r, 401, "unauthorized")
		return
	}
	op, params, match, err := v.checkRoute(r, p, body)
	c.op, c.match = op, match
	if err != nil {
		c.problem = err.Error()
		s.t.Errorf("daytonafake: request not valid against the vendor spec: %v", err)
		writeErr(w, r, 400, err.Error())
		return
	}
	s.mu.Lock()
	s.calls[op]++
	f := s.takeFault(op)
	s.mu.Unlock()
	if s.opts.OnCall != nil {
		s.opts.OnCall(op)
	}
	c.faulted = f != nil && f.shapes()
	q := &request{w: w, r: r, op: op, params: params, body: body, sandboxID: sbID, fault: f}
	if f != nil && f.before(s, q) {
		return
	}
	if sbID != "" {
		s.toolbox(q)
		return
	}
	s.controlPlane(q)
}

// request is one validated call.
type request struct {
	w         http.ResponseWriter
	r         *http.Request
	op        string
	params    map[string]string
	body      []byte
	sandboxID string
	fault     *Fault
}

func (q *request) query(name string) string { return q.r.URL.Query().Get(name) }

// decode decodes the JSON body strictly; the spec check has already
// refused unknown fields, so a failure here is the fake's own bug.
func (q *request) decode(v any) bool {
	dec := json.NewDecoder(strings.NewReader(string(q.body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeErr(q.w, q.r, 400, err.Error())
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeErr answers an error in the shape of the part that answers it
// (the specs declare no error answers): the control plane's
// (apps/api/src/filters/all-exceptions.filter.ts) or the toolbox's
// (libs/common-go/pkg/errors/http.go ErrorResponse and its middleware),
// daytona v0.190.0.
func writeErr(w http.ResponseWriter, r *http.Request, status int, msg string) {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	if strings.HasPrefix(r.URL.Path, "/toolbox/") {
		writeJSON(w, status, map[string]any{"statusCode": status, "message": msg, "code": errorCode(status),
			"timestamp": now, "path": r.URL.Path, "method": r.Method})
		return
	}
	writeJSON(w, status, map[string]any{"path": r.URL.RequestURI(), "timestamp": now, "statusCode": status,
		"error": http.StatusText(status), "message": msg})
}

// errorCode is the toolbox's code of an error status.
func errorCode(status int) string {
	return strings.ToUpper(strings.ReplaceAll(http.StatusText(status), " ", "_"))
}

// inside reports whether an absolute path lies in dir.
func inside(dir, p string) bool {
	if !filepath.IsAbs(p) {
		return false
	}
	c := filepath.Clean(p)
	return c == dir || strings.HasPrefix(c, dir+string(filepath.Separator))
}

func (s *Server) newID() string {
	s.seq++
	return fmt.Sprintf("sbx-%04d", s.seq)
}

package cloudflarefake

import (
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/computemw/kit/providers/internal/fakekit"
	"github.com/computemw/kit/providers/internal/openapicheck"
)

// request is one validated call.
type request struct {
	w      http.ResponseWriter
	r      *http.Request
	op     string
	params map[string]string
	body   []byte
	fault  *Fault
	sb     *sandbox // the sandbox of a route under /v1/sandbox/{id}/
}

var idPattern = regexp.MustCompile(`^[a-z2-7]{1,128}$`)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.handlers.Add(1)
	defer s.handlers.Done()
	body, err := readAll(r.Body)
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

// record checks an answer against the document and keeps the exchange; a
// problem fails the test.
func (s *Server) record(w *fakekit.Recorder, r *http.Request, c *checked) {
	ex := Exchange{Op: c.op, Method: r.Method, Path: r.URL.Path, Status: w.Status, Faulted: c.faulted, Problem: c.problem}
	if w.Hijacked && w.Status != http.StatusSwitchingProtocols {
		ex.Status = 0
	}
	if ex.Problem == "" && c.match != nil && ex.Status != 0 {
		var err error
		if c.faulted {
			if ex.Status >= 300 {
				err = faultShape(c.op, ex.Status, w.Header(), w.Body.Bytes())
			}
		} else {
			err = checkAnswer(c.match, ex.Status, w.Header(), w.Body.Bytes(), !w.Overflow)
		}
		if err != nil {
			ex.Problem = err.Error()
			s.t.Errorf("cloudflarefake: answer not valid against the bridge's document: %v", err)
		} else {
			ex.Checked = true
		}
	}
	s.mu.Lock()
	s.exchanges = append(s.exchanges, ex)
	s.mu.Unlock()
}

// answer validates a request and answers it.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, body []byte, c *checked) {
	doc, _ := loadSpec()
	m, err := doc.CheckRequest(r, specPath(r.URL.Path), body)
	if m != nil {
		c.op, c.match = m.Op, m
	}
	if err != nil {
		c.problem = err.Error()
		s.t.Errorf("cloudflarefake: request not valid against the bridge's document: %v", err)
		writeErr(w, http.StatusBadRequest, openapicheck.OneLine(err), "invalid_request")
		return
	}
	// The bridge checks a sandbox ID's format, then the key.
	if id := m.Params["id"]; id != "" && !idPattern.MatchString(id) {
		writeErr(w, http.StatusBadRequest, "Invalid sandbox ID format", "invalid_request")
		return
	}
	if needsAuth(m.Op) && r.Header.Get("Authorization") != "Bearer "+APIKey {
		c.problem = "wrong Authorization header"
		s.t.Errorf("cloudflarefake: %s %s: wrong Authorization header (%d bytes), want \"Bearer <key>\"",
			r.Method, r.URL.Path, len(r.Header.Get("Authorization")))
		writeErr(w, http.StatusUnauthorized, "Unauthorized", "unauthorized")
		return
	}
	s.mu.Lock()
	s.calls[m.Op]++
	f := s.takeFault(m.Op)
	s.mu.Unlock()
	c.faulted = f != nil && f.shapes()
	q := &request{w: w, r: r, op: m.Op, params: m.Params, body: body, fault: f}
	if f != nil && f.before(s, w, r) {
		return
	}
	if id := m.Params["id"]; id != "" && m.Op != "deleteSandbox" {
		sb, err := s.container(id)
		if err != nil {
			writeErr(w, http.StatusBadGateway, "pool error: "+err.Error(), "pool_error")
			return
		}
		q.sb = sb
	}
	s.route(q)
}

func (s *Server) route(q *request) {
	switch q.op {
	case "healthCheck", "primePool", "shutdownPrewarmed":
		writeJSON(q.w, http.StatusOK, map[string]bool{"ok": true})
	case "getPoolStats":
		s.mu.Lock()
		n := len(s.sandboxes)
		s.mu.Unlock()
		writeJSON(q.w, http.StatusOK, map[string]any{"warm": 0, "assigned": n, "total": n,
			"config": map[string]int{"warmTarget": 0, "refreshInterval": 10000}, "maxInstances": nil})
	case "createSandbox":
		id := newID()
		s.mu.Lock()
		s.issued[id] = true
		s.mu.Unlock()
		writeJSON(q.w, http.StatusOK, map[string]string{"id": id})
	case "deleteSandbox":
		s.destroy(q.params["id"])
		q.w.WriteHeader(http.StatusNoContent)
	case "isSandboxRunning":
		writeJSON(q.w, http.StatusOK, map[string]bool{"running": true})
	case "execCommand":
		s.exec(q)
	case "readFile", "writeFile":
		s.file(q)
	case "createSession":
		s.createSession(q)
	case "deleteSession":
		if !q.sb.deleteSession(q.params["sid"]) {
			writeErr(q.w, http.StatusBadGateway, "session delete failed: Session '"+q.params["sid"]+"' not found", "session_error")
			return
		}
		writeJSON(q.w, http.StatusOK, map[string]any{"success": true, "sessionId": q.params["sid"]})
	case "ptyTerminal":
		s.pty(q)
	default:
		s.t.Errorf("cloudflarefake: %s is in the document but not served by the fake", q.op)
		writeErr(q.w, http.StatusBadGateway, "not served by the fake", "exec_error")
	}
}

// session returns the session a Session-Id header names (made on first
// use, as the bridge's getSession does), or nil without one.
func (q *request) session(header string) (*session, bool) {
	if header == "" {
		return nil, true
	}
	if strings.Contains(header, "..") {
		return nil, false
	}
	return q.sb.session(header), true
}

// session returns the session id, made with the workspace as its working
// directory if it does not exist.
func (sb *sandbox) session(id string) *session {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	ses := sb.sessions[id]
	if ses == nil {
		ses = &session{id: id, cwd: sb.workspace, env: map[string]string{}}
		sb.sessions[id] = ses
	}
	return ses
}

func (s *Server) createSession(q *request) {
	var body struct {
		ID  string            `json:"id"`
		Cwd string            `json:"cwd"`
		Env map[string]string `json:"env"`
	}
	if len(q.body) > 0 && !q.decode(&body) {
		return
	}
	if body.ID == "" {
		body.ID = "session-" + newID()[:12]
	}
	cwd := q.sb.workspace
	if body.Cwd != "" {
		p, ok := q.sb.hostPath(body.Cwd)
		if !ok {
			writeErr(q.w, http.StatusBadGateway, "session create failed: cwd outside the workspace", "session_error")
			return
		}
		cwd = p
	}
	q.sb.mu.Lock()
	_, dup := q.sb.sessions[body.ID]
	if !dup {
		q.sb.sessions[body.ID] = &session{id: body.ID, cwd: cwd, env: body.Env}
	}
	q.sb.mu.Unlock()
	if dup {
		writeErr(q.w, http.StatusBadGateway, "session create failed: Session '"+body.ID+"' already exists", "session_error")
		return
	}
	writeJSON(q.w, http.StatusOK, map[string]string{"id": body.ID})
}

// file serves readFile and writeFile under /workspace.
func (s *Server) file(q *request) {
	marker := "/v1/sandbox/" + q.params["id"] + "/file/"
	rel := strings.TrimPrefix(q.r.URL.Path, marker)
	if rel == "" {
		writeErr(q.w, http.StatusBadRequest, "file path must not be empty", "invalid_request")
		return
	}
	host, ok := q.sb.hostPath("/" + rel)
	if !ok {
		writeErr(q.w, http.StatusForbidden, "path must resolve to a location within /workspace", "invalid_request")
		return
	}
	if _, ok := q.session(q.r.Header.Get("Session-Id")); !ok {
		writeErr(q.w, http.StatusBadRequest, "Invalid session ID format", "invalid_request")
		return
	}
	if q.op == "writeFile" {
		if len(q.body) > 32<<20 {
			writeErr(q.w, http.StatusRequestEntityTooLarge, "payload too large", "invalid_request")
			return
		}
		if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
			writeErr(q.w, http.StatusBadGateway, "write failed: "+err.Error(), "workspace_archive_write_error")
			return
		}
		if err := os.WriteFile(host, q.body, 0o644); err != nil {
			writeErr(q.w, http.StatusBadGateway, "write failed: "+err.Error(), "workspace_archive_write_error")
			return
		}
		writeJSON(q.w, http.StatusOK, map[string]bool{"ok": true})
		return
	}
	data, err := os.ReadFile(host)
	if errors.Is(err, fs.ErrNotExist) {
		writeErr(q.w, http.StatusNotFound, "File not found: /"+rel, "workspace_read_not_found")
		return
	}
	if err != nil {
		writeErr(q.w, http.StatusBadGateway, "read failed: "+err.Error(), "exec_transport_error")
		return
	}
	q.w.Header().Set("Content-Type", "application/octet-stream")
	q.w.WriteHeader(http.StatusOK)
	_, _ = q.w.Write(data)
}

// decode decodes the JSON body strictly; the document's check has already
// refused unknown fields, so a failure here is the fake's own bug.
func (q *request) decode(v any) bool {
	dec := json.NewDecoder(strings.NewReader(string(q.body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeErr(q.w, http.StatusBadRequest, "Invalid JSON body", "invalid_request")
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeErr answers the bridge's ErrorResponse (helpers.ts errorJson).
func writeErr(w http.ResponseWriter, status int, msg, code string) {
	writeJSON(w, status, map[string]string{"error": msg, "code": code})
}

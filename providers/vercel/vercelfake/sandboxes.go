package vercelfake

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"
)

// createRequest is the body of POST /v3/sandboxes (api-client.ts
// createSandbox) with the fields the fake acts on; the description's check
// has validated the rest.
type createRequest struct {
	ProjectID string          `json:"projectId"`
	Name      string          `json:"name"`
	Ports     []int           `json:"ports"`
	Source    json.RawMessage `json:"source"`
	Timeout   int64           `json:"timeout"`
	Resources *struct {
		Vcpus int `json:"vcpus"`
	} `json:"resources"`
	Persistent         *bool             `json:"persistent"`
	Runtime            string            `json:"runtime"`
	Image              string            `json:"image"`
	NetworkPolicy      map[string]any    `json:"networkPolicy"`
	NetworkID          string            `json:"networkId"`
	Mounts             json.RawMessage   `json:"mounts"`
	Env                map[string]string `json:"env"`
	Tags               map[string]string `json:"tags"`
	SnapshotExpiration *int64            `json:"snapshotExpiration"`
	KeepLastSnapshots  json.RawMessage   `json:"keepLastSnapshots"`
	Region             string            `json:"region"`
	FailoverRegions    []string          `json:"failoverRegions"`
}

// defaultTimeout is the vendor's default sandbox timeout: 5 minutes.
const defaultTimeout = 5 * 60 * 1000

func (s *Server) create(q *request) {
	var req createRequest
	if !q.decode(&req) {
		return
	}
	if req.ProjectID != s.ProjectID {
		s.t.Errorf("vercelfake: createSandbox: projectId %q, want the configured project", req.ProjectID)
		writeErr(q.w, 404, "not_found", "project not found")
		return
	}
	var raw map[string]any
	json.Unmarshal(q.body, &raw)
	if f := q.fault; f != nil && f.CreateAfterGiveUp > 0 {
		// Nothing is answered until the client gives up; the sandbox is
		// made anyway.
		select {
		case <-q.r.Context().Done():
		case <-s.closing:
			return
		}
		s.late.Add(1)
		go func() {
			defer s.late.Done()
			t := time.NewTimer(f.CreateAfterGiveUp)
			defer t.Stop()
			select {
			case <-t.C:
				s.makeSandbox(req, raw)
			case <-s.closing:
			}
		}()
		return
	}
	ss, status, msg := s.makeSandbox(req, raw)
	if ss == nil {
		writeErr(q.w, status, "bad_request", msg)
		return
	}
	s.mu.Lock()
	body := map[string]any{"sandbox": sandboxPayload(ss), "session": sessionPayload(ss), "routes": routes(ss)}
	s.mu.Unlock()
	writeJSON(q.w, 200, body)
}

// makeSandbox makes a sandbox and its first session.
func (s *Server) makeSandbox(req createRequest, raw map[string]any) (*session, int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	id := fmt.Sprintf("sbx_%06d", s.seq)
	name := req.Name
	if name == "" {
		name = "sandbox-" + strconv.Itoa(s.seq)
	}
	if old := s.sandboxes[name]; old != nil {
		return nil, 409, "a sandbox named " + name + " exists"
	}
	dir := filepath.Join(s.root, id)
	cwd := filepath.Join(dir, "vercel", "sandbox")
	if err := os.MkdirAll(cwd, 0o755); err != nil {
		return nil, 500, err.Error()
	}
	now := nowMs()
	ss := &session{
		id: id, name: name, dir: dir, cwd: cwd, env: maps.Clone(req.Env), request: raw, tags: req.Tags,
		status: "running", pendingPolls: s.opts.StartPolls, timeout: req.Timeout, vcpus: 2,
		region: "iad1", persistent: true, createdAt: now, startedAt: now, updatedAt: now,
		cmds: map[string]*command{},
	}
	if ss.timeout == 0 {
		ss.timeout = defaultTimeout
	}
	if req.Resources != nil {
		ss.vcpus = req.Resources.Vcpus
	}
	if req.Region != "" {
		ss.region = req.Region
	}
	if req.Persistent != nil {
		ss.persistent = *req.Persistent
	}
	if ss.pendingPolls > 0 {
		ss.status = "pending"
	}
	s.sessions[id] = ss
	s.sandboxes[name] = ss
	s.made++
	return ss, 0, ""
}

// sessionPayload is the session as validators.ts Session describes it.
// The caller holds s.mu.
func sessionPayload(ss *session) map[string]any {
	m := map[string]any{
		"id": ss.id, "memory": ss.vcpus * 2048, "vcpus": ss.vcpus, "region": ss.region,
		"timeout": ss.timeout, "status": ss.status, "requestedAt": ss.createdAt, "createdAt": ss.createdAt,
		"cwd": ss.cwd, "updatedAt": ss.updatedAt,
	}
	if ss.status != "pending" {
		m["startedAt"] = ss.startedAt
	}
	if ss.stoppedAt != 0 {
		m["stoppedAt"] = ss.stoppedAt
		m["requestedStopAt"] = ss.stoppedAt
		m["duration"] = ss.stoppedAt - ss.createdAt
	}
	return m
}

// sandboxPayload is the sandbox as validators.ts Sandbox describes it.
// The caller holds s.mu.
func sandboxPayload(ss *session) map[string]any {
	m := map[string]any{
		"name": ss.name, "persistent": ss.persistent, "region": ss.region, "vcpus": ss.vcpus,
		"memory": ss.vcpus * 2048, "timeout": ss.timeout, "createdAt": ss.createdAt, "updatedAt": ss.updatedAt,
		"currentSessionId": ss.id, "status": ss.status, "cwd": ss.cwd,
	}
	if len(ss.tags) > 0 {
		m["tags"] = ss.tags
	}
	return m
}

func routes(*session) []any { return []any{} }

// list answers listSandboxes: the project's sandboxes, newest first, one
// page (the fake has no cursor beyond it).
func (s *Server) list(q *request) {
	if q.query("project") != s.ProjectID {
		writeErr(q.w, 404, "not_found", "project not found")
		return
	}
	limit := 50
	if l, err := strconv.Atoi(q.query("limit")); err == nil && l > 0 {
		limit = l
	}
	s.mu.Lock()
	all := make([]*session, 0, len(s.sandboxes))
	for _, ss := range s.sandboxes {
		all = append(all, ss)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].id > all[j].id })
	items := []any{}
	for _, ss := range all[:min(limit, len(all))] {
		items = append(items, sandboxPayload(ss))
	}
	s.mu.Unlock()
	writeJSON(q.w, 200, map[string]any{"sandboxes": items, "pagination": map[string]any{"count": len(items), "next": nil}})
}

// named answers getSandbox and deleteSandbox. Deleting a sandbox stops
// its session and forgets its name.
func (s *Server) named(q *request) {
	if q.query("projectId") != s.ProjectID {
		writeErr(q.w, 404, "not_found", "project not found")
		return
	}
	name := q.params["name"]
	s.mu.Lock()
	ss := s.sandboxes[name]
	if ss == nil {
		s.mu.Unlock()
		writeErr(q.w, 404, "not_found", "Sandbox not found: "+name)
		return
	}
	if q.op == "getSandbox" {
		body := map[string]any{"sandbox": sandboxPayload(ss), "session": sessionPayload(ss), "routes": routes(ss)}
		s.mu.Unlock()
		writeJSON(q.w, 200, body)
		return
	}
	delete(s.sandboxes, name)
	s.mu.Unlock()
	s.stopSession(ss)
	s.mu.Lock()
	body := map[string]any{"sandbox": sandboxPayload(ss)}
	s.mu.Unlock()
	writeJSON(q.w, 200, body)
}

// stopSession stops a session and ends its commands; it blocks until
// they are gone, as the vendor's stop does.
func (s *Server) stopSession(ss *session) {
	s.mu.Lock()
	live := ss.status == "pending" || ss.status == "running"
	if live {
		ss.status = "stopping"
	}
	s.mu.Unlock()
	if !live {
		return
	}
	ss.stop()
	s.mu.Lock()
	ss.status = "stopped"
	ss.stoppedAt = nowMs()
	ss.updatedAt = ss.stoppedAt
	s.mu.Unlock()
}

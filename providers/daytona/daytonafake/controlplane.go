package daytonafake

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"
)

// createSandbox is the request body of createSandbox, decoded strictly.
type createSandbox struct {
	Name                string            `json:"name"`
	Snapshot            string            `json:"snapshot"`
	User                string            `json:"user"`
	Env                 map[string]string `json:"env"`
	Labels              map[string]string `json:"labels"`
	Public              *bool             `json:"public"`
	NetworkBlockAll     *bool             `json:"networkBlockAll"`
	NetworkAllowList    string            `json:"networkAllowList"`
	DomainAllowList     string            `json:"domainAllowList"`
	Target              string            `json:"target"`
	CPU                 *int              `json:"cpu"`
	GPU                 *int              `json:"gpu"`
	GPUType             []string          `json:"gpuType"`
	Memory              *int              `json:"memory"`
	Disk                *int              `json:"disk"`
	AutoStopInterval    *int              `json:"autoStopInterval"`
	AutoArchiveInterval *int              `json:"autoArchiveInterval"`
	AutoDeleteInterval  *int              `json:"autoDeleteInterval"`
	Volumes             []json.RawMessage `json:"volumes"`
	BuildInfo           json.RawMessage   `json:"buildInfo"`
	LinkedSandbox       string            `json:"linkedSandbox"`
}

// Plausible upper bounds of the units the spec gives: whole cores, GB of
// memory and disk, minutes. A larger value is most likely a unit mistake
// (MB for GB, seconds for minutes), and fails the test.
const (
	maxCPU      = 64
	maxMemoryGB = 256
	maxDiskGB   = 1024
	maxMinutes  = 60 * 24 * 30
)

func (s *Server) controlPlane(q *request) {
	switch q.op {
	case "createSandbox":
		s.create(q)
	case "getSandbox":
		s.mu.Lock()
		sb := s.find(q.params["sandboxIdOrName"])
		if sb != nil && sb.pendingPolls > 0 {
			sb.pendingPolls--
			if sb.pendingPolls == 0 {
				sb.state = sb.startsAs
			}
		}
		if sb != nil && sb.state == "destroying" {
			if sb.destroyPolls <= 0 {
				// The runner is done: a destroyed sandbox is not found.
				delete(s.sandboxes, sb.id)
				sb = nil
			} else {
				sb.destroyPolls--
			}
		}
		var dto map[string]any
		if sb != nil {
			dto = sb.dto(s.srv.URL)
		}
		s.mu.Unlock()
		if sb == nil {
			writeErr(q.w, q.r, 404, "Sandbox with ID or name "+q.params["sandboxIdOrName"]+" not found")
			return
		}
		writeJSON(q.w, 200, dto)
	case "listSandboxes":
		s.list(q)
	case "deleteSandbox":
		s.deleteSandbox(q)
	case "setAutostopInterval":
		minutes, err := strconv.ParseFloat(q.params["interval"], 64)
		if err != nil || minutes < 0 || minutes > maxMinutes {
			s.t.Errorf("daytonafake: setAutostopInterval: interval %q is not a plausible number of minutes", q.params["interval"])
			writeErr(q.w, q.r, 400, "invalid interval")
			return
		}
		s.mu.Lock()
		sb := s.find(q.params["sandboxIdOrName"])
		var dto map[string]any
		if sb != nil {
			sb.autoStop = int(minutes)
			dto = sb.dto(s.srv.URL)
		}
		s.mu.Unlock()
		if sb == nil {
			writeErr(q.w, q.r, 404, "sandbox not found")
			return
		}
		writeJSON(q.w, 200, dto)
	case "updateLastActivity":
		s.mu.Lock()
		sb := s.sandboxes[q.params["sandboxId"]]
		if sb != nil {
			sb.activity++
		}
		s.mu.Unlock()
		if sb == nil {
			writeErr(q.w, q.r, 404, "sandbox not found")
			return
		}
		q.w.WriteHeader(201)
	default:
		s.t.Errorf("daytonafake: %s is in the spec but not used by the provider", q.op)
		writeErr(q.w, q.r, 501, "not implemented by the fake")
	}
}

func (s *Server) create(q *request) {
	var c createSandbox
	if !q.decode(&c) {
		return
	}
	for _, u := range []struct {
		name string
		v    *int
		max  int
	}{{"cpu (cores)", c.CPU, maxCPU}, {"memory (GB)", c.Memory, maxMemoryGB}, {"disk (GB)", c.Disk, maxDiskGB}, {"autoStopInterval (minutes)", c.AutoStopInterval, maxMinutes}} {
		if u.v != nil && (*u.v < 0 || *u.v > u.max) {
			s.t.Errorf("daytonafake: createSandbox: %s = %d is outside 0..%d: wrong unit?", u.name, *u.v, u.max)
			writeErr(q.w, q.r, 400, "invalid "+u.name)
			return
		}
	}
	var raw map[string]any
	json.Unmarshal(q.body, &raw)
	if f := q.fault; f != nil && f.CreateAfterGiveUp > 0 {
		// Hold the answer until the client gives up, then create anyway.
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
				s.mu.Lock()
				defer s.mu.Unlock()
				s.add(c, raw)
			case <-s.closing:
			}
		}()
		return
	}
	s.mu.Lock()
	if c.Name != "" && s.find(c.Name) != nil {
		s.mu.Unlock()
		writeErr(q.w, q.r, 409, "a sandbox with this name exists")
		return
	}
	sb, err := s.add(c, raw)
	var dto map[string]any
	if err == nil {
		dto = sb.dto(s.srv.URL)
	}
	s.mu.Unlock()
	if err != nil {
		writeErr(q.w, q.r, 500, err.Error())
		return
	}
	status := 200
	if q.fault != nil && q.fault.CreatedStatus != 0 {
		status = q.fault.CreatedStatus
	}
	writeJSON(q.w, status, dto)
}

// add puts a new sandbox on the books. The caller holds s.mu.
func (s *Server) add(c createSandbox, raw map[string]any) (*sandbox, error) {
	id := s.newID()
	dir := filepath.Join(s.root, id)
	work := filepath.Join(dir, "home", "daytona")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	name := c.Name
	if name == "" {
		name = id
	}
	sb := &sandbox{
		id: id, name: name, dir: dir, workDir: work, env: c.Env, labels: c.Labels, request: raw,
		state: s.opts.StartState, startsAs: s.opts.StartState, pendingPolls: s.opts.StartPolls, sessions: map[string]*session{},
		snapshot: c.Snapshot, target: c.Target,
	}
	if sb.labels == nil {
		sb.labels = map[string]string{}
	}
	if sb.env == nil {
		sb.env = map[string]string{}
	}
	sb.cpu, sb.memory, sb.disk = 1, 1, 3
	if c.CPU != nil {
		sb.cpu = *c.CPU
	}
	if c.Memory != nil {
		sb.memory = *c.Memory
	}
	if c.Disk != nil {
		sb.disk = *c.Disk
	}
	if sb.pendingPolls > 0 {
		sb.state = "creating"
	}
	sb.autoStop = 15 // Daytona's default
	if c.AutoStopInterval != nil {
		sb.autoStop = *c.AutoStopInterval
	}
	s.sandboxes[id] = sb
	s.made++
	return sb, nil
}

// deleteSandbox follows the control plane's soft delete
// (apps/api/src/sandbox/services/sandbox.service.ts destroy and
// sandbox.entity.ts getSoftDeleteUpdate, daytona v0.190.0): the answer is
// the sandbox, renamed DESTROYED_<name>_<ms> and with desired state
// destroyed; it stays visible by ID, in state destroying, until the
// runner has destroyed it (Options.DestroyPolls getSandbox answers here),
// then it is not found. A second delete while that is under way is a
// conflict (StateChangeInProgressError, 409). The fake's runner ends the
// sandbox's processes and removes its directory at once.
func (s *Server) deleteSandbox(q *request) {
	s.mu.Lock()
	sb := s.find(q.params["sandboxIdOrName"])
	busy := sb != nil && sb.state == "destroying"
	if sb != nil && !busy {
		sb.state, sb.desiredState = "destroying", "destroyed"
		sb.name = fmt.Sprintf("DESTROYED_%s_%d", sb.name, time.Now().UnixMilli())
		sb.destroyPolls = s.opts.DestroyPolls
	}
	s.mu.Unlock()
	switch {
	case sb == nil:
		writeErr(q.w, q.r, 404, "Sandbox with ID or name "+q.params["sandboxIdOrName"]+" not found")
		return
	case busy:
		writeErr(q.w, q.r, 409, "Sandbox state change in progress")
		return
	}
	sb.destroy()
	s.mu.Lock()
	dto := sb.dto(s.srv.URL)
	s.mu.Unlock()
	writeJSON(q.w, 200, dto)
}

// find looks a live sandbox up by ID or name. The caller holds s.mu.
func (s *Server) find(idOrName string) *sandbox {
	if sb := s.sandboxes[idOrName]; sb != nil {
		return sb
	}
	for _, sb := range s.sandboxes {
		if sb.name == idOrName {
			return sb
		}
	}
	return nil
}

func (s *Server) list(q *request) {
	var want map[string]string
	if l := q.query("labels"); l != "" {
		if err := json.Unmarshal([]byte(l), &want); err != nil {
			s.t.Errorf("daytonafake: listSandboxes: labels %q is not a JSON object: %v", l, err)
			writeErr(q.w, q.r, 400, "invalid labels")
			return
		}
	}
	limit := 100
	if l := q.query("limit"); l != "" {
		f, _ := strconv.ParseFloat(l, 64)
		limit = int(f)
	}
	if s.opts.PageSize > 0 {
		limit = min(limit, s.opts.PageSize)
	}
	offset := 0
	if c := q.query("cursor"); c != "" {
		offset, _ = strconv.Atoi(c)
	}
	s.mu.Lock()
	var all []*sandbox
	for _, sb := range s.sandboxes {
		ok := true
		for k, v := range want {
			if sb.labels[k] != v {
				ok = false
			}
		}
		if ok {
			all = append(all, sb)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].id < all[j].id })
	items := []map[string]any{}
	for i := offset; i < len(all) && len(items) < limit; i++ {
		items = append(items, all[i].listItem(s.srv.URL))
	}
	s.mu.Unlock()
	var next any
	if offset+len(items) < len(all) {
		next = strconv.Itoa(offset + len(items))
	}
	writeJSON(q.w, 200, map[string]any{"items": items, "nextCursor": next})
}

// listItem is the SandboxListItem of the spec: a Sandbox without its
// environment and network settings.
func (sb *sandbox) listItem(base string) map[string]any {
	m := sb.dto(base)
	for _, k := range []string{"env", "networkBlockAll"} {
		delete(m, k)
	}
	return m
}

// dto is the Sandbox of the spec. The caller holds s.mu.
func (sb *sandbox) dto(base string) map[string]any {
	proxy, _ := url.JoinPath(base, "toolbox")
	desired := sb.desiredState
	if desired == "" {
		desired = "started"
	}
	m := map[string]any{
		"desiredState": desired,
		"id":           sb.id, "organizationId": "org-fake", "name": sb.name, "snapshot": sb.snapshot,
		"user": "daytona", "env": sb.env, "labels": sb.labels, "public": false, "networkBlockAll": false,
		"target": sb.target, "cpu": sb.cpu, "gpu": 0, "memory": sb.memory, "disk": sb.disk,
		"state": sb.state, "toolboxProxyUrl": proxy, "autoStopInterval": sb.autoStop,
	}
	if sb.state == "build_failed" || sb.state == "error" {
		m["errorReason"] = "the snapshot failed to build"
	}
	return m
}

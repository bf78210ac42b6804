package e2bfake

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The control plane's bodies, with exactly the fields of the vendor's
// OpenAPI description: decoding refuses any other.

type newSandbox struct {
	TemplateID          string            `json:"templateID"`
	Timeout             *json.Number      `json:"timeout,omitempty"`
	AutoPause           *bool             `json:"autoPause,omitempty"`
	AutoPauseMemory     *bool             `json:"autoPauseMemory,omitempty"`
	AutoResume          json.RawMessage   `json:"autoResume,omitempty"`
	Secure              *bool             `json:"secure,omitempty"`
	AllowInternetAccess *bool             `json:"allow_internet_access,omitempty"`
	Network             json.RawMessage   `json:"network,omitempty"`
	Metadata            map[string]string `json:"metadata,omitempty"`
	EnvVars             map[string]string `json:"envVars,omitempty"`
	MCP                 json.RawMessage   `json:"mcp,omitempty"`
	IAM                 json.RawMessage   `json:"iam,omitempty"`
	VolumeMounts        json.RawMessage   `json:"volumeMounts,omitempty"`
}

type timeoutRequest struct {
	Timeout *json.Number `json:"timeout"`
}

type sandboxAnswer struct {
	TemplateID      string `json:"templateID"`
	SandboxID       string `json:"sandboxID"`
	ClientID        string `json:"clientID"`
	EnvdVersion     string `json:"envdVersion"`
	EnvdAccessToken string `json:"envdAccessToken,omitempty"`
	Domain          string `json:"domain,omitempty"`
}

type sandboxDetail struct {
	TemplateID          string            `json:"templateID"`
	SandboxID           string            `json:"sandboxID"`
	ClientID            string            `json:"clientID"`
	StartedAt           time.Time         `json:"startedAt"`
	EndAt               time.Time         `json:"endAt"`
	EnvdVersion         string            `json:"envdVersion"`
	EnvdAccessToken     string            `json:"envdAccessToken,omitempty"`
	AllowInternetAccess *bool             `json:"allowInternetAccess,omitempty"`
	Domain              string            `json:"domain,omitempty"`
	CPUCount            int               `json:"cpuCount"`
	MemoryMB            int               `json:"memoryMB"`
	DiskSizeMB          int               `json:"diskSizeMB"`
	Metadata            map[string]string `json:"metadata,omitempty"`
	State               string            `json:"state"`
}

type sandboxMetric struct {
	Timestamp     time.Time `json:"timestamp"`
	TimestampUnix int64     `json:"timestampUnix"`
	CPUCount      int       `json:"cpuCount"`
	CPUUsedPct    float64   `json:"cpuUsedPct"`
	MemUsed       int64     `json:"memUsed"`
	MemTotal      int64     `json:"memTotal"`
	MemCache      int64     `json:"memCache"`
	DiskUsed      int64     `json:"diskUsed"`
	DiskTotal     int64     `json:"diskTotal"`
}

// maxTimeoutSeconds is the longest sandbox lifetime the fake believes: a
// larger number was most likely sent in milliseconds.
const maxTimeoutSeconds = 24 * 60 * 60

func (f *Fake) serveAPI(w http.ResponseWriter, r *http.Request) {
	if got := r.Header.Get("X-API-Key"); got != f.apiKey {
		f.errorf("%s %s: X-API-Key is %q, want the fake's key", r.Method, r.URL.Path, got)
		writeError(w, http.StatusUnauthorized, "invalid API key")
		return
	}
	if r.Header.Get("Authorization") != "" {
		f.errorf("%s %s: an Authorization header was sent to the control plane besides X-API-Key", r.Method, r.URL.Path)
		writeError(w, http.StatusUnauthorized, "one authentication scheme at a time")
		return
	}
	parts := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/sandboxes":
		f.create(w, r)
	case r.Method == http.MethodGet && r.URL.Path == "/v2/sandboxes":
		f.list(w, r)
	case len(parts) == 2 && parts[0] == "sandboxes" && r.Method == http.MethodGet:
		f.withSandbox(w, r, OpGet, parts[1], f.get)
	case len(parts) == 2 && parts[0] == "sandboxes" && r.Method == http.MethodDelete:
		f.withSandbox(w, r, OpKill, parts[1], f.kill)
	case len(parts) == 3 && parts[0] == "sandboxes" && parts[2] == "timeout" && r.Method == http.MethodPost:
		f.withSandbox(w, r, OpSetTimeout, parts[1], f.setTimeout)
	case len(parts) == 3 && parts[0] == "sandboxes" && parts[2] == "connect" && r.Method == http.MethodPost:
		f.withSandbox(w, r, OpConnect, parts[1], f.connect)
	case len(parts) == 3 && parts[0] == "sandboxes" && parts[2] == "metrics" && r.Method == http.MethodGet:
		f.withSandbox(w, r, OpMetrics, parts[1], f.metrics)
	default:
		f.errorf("unknown control plane route %s %s", r.Method, r.URL.Path)
		writeError(w, http.StatusNotFound, "no such route")
	}
}

// decode reads a JSON body strictly: the right content type, no unknown
// field, nothing after the value.
func (f *Fake) decode(r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		f.errorf("%s %s: Content-Type %q, want application/json", r.Method, r.URL.Path, ct)
		return false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		f.errorf("%s %s: body %s does not match the API description: %v", r.Method, r.URL.Path, body, err)
		return false
	}
	if dec.More() {
		f.errorf("%s %s: data after the JSON body", r.Method, r.URL.Path)
		return false
	}
	return true
}

// seconds checks a timeout field: a whole number of seconds, not
// negative, not so large that it must be milliseconds.
func (f *Fake) seconds(r *http.Request, n *json.Number, required bool) (int, bool) {
	if n == nil {
		if required {
			f.errorf("%s %s: timeout is required", r.Method, r.URL.Path)
		}
		return 15, !required
	}
	v, err := strconv.Atoi(n.String())
	if err != nil || v < 0 {
		f.errorf("%s %s: timeout %s is not a whole number of seconds", r.Method, r.URL.Path, n)
		return 0, false
	}
	if v > maxTimeoutSeconds {
		f.errorf("%s %s: timeout %d is over a day: milliseconds sent where the API takes seconds?", r.Method, r.URL.Path, v)
		return 0, false
	}
	return v, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *Fake) create(w http.ResponseWriter, r *http.Request) {
	ft := f.take(OpCreate)
	var req newSandbox
	if !f.decode(r, &req) {
		writeError(w, http.StatusBadRequest, "invalid body")
		return
	}
	if req.TemplateID == "" {
		f.errorf("create: templateID is required")
		writeError(w, http.StatusBadRequest, "templateID is required")
		return
	}
	secs, ok := f.seconds(r, req.Timeout, false)
	if !ok {
		writeError(w, http.StatusBadRequest, "invalid timeout")
		return
	}
	if answerFault(w, ft) {
		return
	}
	if h := f.takeHold(); h != nil {
		h.arrive.Do(func() { close(h.arrived) })
		<-h.gate // not the request's context: the sandbox is made anyway
	}
	sb, err := f.newSandbox(req, time.Duration(secs)*time.Second)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if ft != nil && ft.AbortAfterCreate {
		panic(http.ErrAbortHandler)
	}
	writeJSON(w, http.StatusCreated, sb.answer())
}

func (f *Fake) list(w http.ResponseWriter, r *http.Request) {
	if answerFault(w, f.take(OpList)) {
		return
	}
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "metadata", "state", "order", "startedAfter", "template", "nextToken", "limit":
		default:
			f.errorf("list: unknown query parameter %q", k)
		}
	}
	limit := 100
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			f.errorf("list: limit %q is not 1..100", s)
			writeError(w, http.StatusBadRequest, "invalid limit")
			return
		}
		limit = n
	}
	var want url.Values
	if s := q.Get("metadata"); s != "" {
		var err error
		if want, err = url.ParseQuery(s); err != nil {
			f.errorf("list: metadata %q is not a query string", s)
			writeError(w, http.StatusBadRequest, "invalid metadata")
			return
		}
	}
	f.mu.Lock()
	if f.listPage > 0 {
		limit = min(limit, f.listPage)
	}
	all := make([]sandboxDetail, 0, len(f.sandboxes))
	for _, sb := range f.sandboxes {
		d := sb.detail()
		d.EnvdAccessToken, d.Domain, d.AllowInternetAccess = "", "", nil // ListedSandbox has none
		match := true
		for k := range want {
			if d.Metadata[k] != want.Get(k) {
				match = false
			}
		}
		if match {
			all = append(all, d)
		}
	}
	f.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i].SandboxID < all[j].SandboxID })
	// The token is opaque to the client: it names the first sandbox of
	// the next page, encoded, so a client that makes up or edits one is
	// refused.
	start := 0
	if tok := q.Get("nextToken"); tok != "" {
		id, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			f.errorf("list: nextToken %q is not one the fake gave", tok)
			writeError(w, http.StatusBadRequest, "invalid nextToken")
			return
		}
		start = sort.Search(len(all), func(i int) bool { return all[i].SandboxID >= string(id) })
	}
	end := min(start+limit, len(all))
	if end < len(all) {
		w.Header().Set("X-Next-Token", base64.RawURLEncoding.EncodeToString([]byte(all[end].SandboxID)))
	}
	writeJSON(w, http.StatusOK, all[start:end])
}

// withSandbox finds the sandbox of a path, answering 404 when there is none.
func (f *Fake) withSandbox(w http.ResponseWriter, r *http.Request, op, id string, h func(http.ResponseWriter, *http.Request, *sandbox)) {
	if answerFault(w, f.take(op)) {
		return
	}
	f.mu.Lock()
	sb := f.sandboxes[id]
	f.mu.Unlock()
	if sb == nil {
		writeError(w, http.StatusNotFound, "sandbox \""+id+"\" not found")
		return
	}
	h(w, r, sb)
}

func (f *Fake) get(w http.ResponseWriter, _ *http.Request, sb *sandbox) {
	writeJSON(w, http.StatusOK, sb.detail())
}

func (f *Fake) kill(w http.ResponseWriter, _ *http.Request, sb *sandbox) {
	f.mu.Lock()
	delete(f.sandboxes, sb.id)
	f.mu.Unlock()
	sb.kill()
	f.processChanged()
	w.WriteHeader(http.StatusNoContent)
}

func (f *Fake) setTimeout(w http.ResponseWriter, r *http.Request, sb *sandbox) {
	var req timeoutRequest
	if !f.decode(r, &req) {
		writeError(w, http.StatusBadRequest, "invalid body")
		return
	}
	secs, ok := f.seconds(r, req.Timeout, true)
	if !ok {
		writeError(w, http.StatusBadRequest, "invalid timeout")
		return
	}
	sb.setEnd(time.Now().Add(time.Duration(secs) * time.Second))
	w.WriteHeader(http.StatusNoContent)
}

func (f *Fake) connect(w http.ResponseWriter, r *http.Request, sb *sandbox) {
	var req timeoutRequest
	if !f.decode(r, &req) {
		writeError(w, http.StatusBadRequest, "invalid body")
		return
	}
	secs, ok := f.seconds(r, req.Timeout, true)
	if !ok {
		writeError(w, http.StatusBadRequest, "invalid timeout")
		return
	}
	sb.extendEnd(time.Now().Add(time.Duration(secs) * time.Second))
	// The spec: 201 when the sandbox was resumed, 200 when it was running.
	status := http.StatusOK
	if sb.resume() {
		status = http.StatusCreated
	}
	writeJSON(w, status, sb.answer())
}

func (f *Fake) metrics(w http.ResponseWriter, _ *http.Request, sb *sandbox) {
	now := time.Now()
	writeJSON(w, http.StatusOK, []sandboxMetric{{
		Timestamp: now.UTC(), TimestampUnix: now.Unix(), CPUCount: 2,
		MemUsed: sb.peakRSS(), MemTotal: 512 << 20, DiskTotal: 1 << 30,
	}})
}

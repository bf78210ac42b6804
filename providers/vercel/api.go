package vercel

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// The wire types: what the provider reads of the API's answers
// (validators.ts of the vendor's SDK describes them whole).
type (
	apiSession struct {
		ID                  string   `json:"id"`
		Status              string   `json:"status"`
		Cwd                 string   `json:"cwd"`
		Timeout             int64    `json:"timeout"`
		CreatedAt           int64    `json:"createdAt"`
		ActiveCPUDurationMs *float64 `json:"activeCpuDurationMs"`
	}
	apiSandbox struct {
		Name             string `json:"name"`
		CurrentSessionID string `json:"currentSessionId"`
	}
	sandboxAndSession struct {
		Sandbox apiSandbox `json:"sandbox"`
		Session apiSession `json:"session"`
	}
	sessionAnswer struct {
		Session apiSession `json:"session"`
	}
	apiCommand struct {
		ID       string `json:"id"`
		ExitCode *int   `json:"exitCode"`
	}
	// logLine is one line of a command's ndjson stream: a command, or a
	// log line (stdout, stderr, or an error whose data is {code,message}).
	logLine struct {
		Command *apiCommand     `json:"command"`
		Stream  string          `json:"stream"`
		Data    json.RawMessage `json:"data"`
	}
)

// createRequest is the body of POST /v3/sandboxes. Durations are in
// milliseconds.
type createRequest struct {
	ProjectID     string            `json:"projectId"`
	Name          string            `json:"name"`
	Ports         []int             `json:"ports,omitempty"`
	Timeout       int64             `json:"timeout"`
	Resources     *resources        `json:"resources,omitempty"`
	Persistent    bool              `json:"persistent"`
	Image         string            `json:"image,omitempty"`
	NetworkPolicy *networkPolicy    `json:"networkPolicy,omitempty"`
	Env           map[string]string `json:"env,omitempty"`
	Tags          map[string]string `json:"tags,omitempty"`
	Region        string            `json:"region,omitempty"`
}

type resources struct {
	VCPUs int `json:"vcpus"`
}

type networkPolicy struct {
	Mode string `json:"mode"`
}

// runRequest is the body of POST .../cmd. Timeout is in milliseconds.
type runRequest struct {
	Command string            `json:"command"`
	Args    []string          `json:"args"`
	Cwd     string            `json:"cwd,omitempty"`
	Env     map[string]string `json:"env"`
	Sudo    bool              `json:"sudo"`
	Wait    bool              `json:"wait,omitempty"`
	Logs    bool              `json:"logs,omitempty"`
	Timeout int64             `json:"timeout,omitempty"`
}

// userAgent names the client, as the vendor's SDK names itself.
const userAgent = "computemw-vercel (Go)"

// request is one call of the API.
type request struct {
	op     string
	method string
	path   string     // under APIURL, with its leading slash
	query  url.Values // besides teamId
	body   any        // JSON-encoded when not nil
	raw    []byte     // sent as is (with header's Content-Type) when not nil
	header http.Header
}

// do sends a call through the retrying client. The response is returned
// open whatever its status; transport errors are classified by check.
func (p *Provider) do(ctx context.Context, r request) (*http.Response, error) {
	q := url.Values{}
	for k, v := range r.query {
		q[k] = v
	}
	q.Set("teamId", p.opts.TeamID)
	u := p.base + r.path + "?" + q.Encode()
	var body []byte
	ct := ""
	switch {
	case r.raw != nil:
		body = r.raw
	case r.body != nil:
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, err
		}
		body, ct = b, "application/json"
	}
	var req *http.Request
	var err error
	if body != nil {
		req, err = http.NewRequestWithContext(ctx, r.method, u, bytes.NewReader(body))
	} else {
		req, err = http.NewRequestWithContext(ctx, r.method, u, nil)
	}
	if err != nil {
		return nil, err
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", userAgent)
	return p.doer.Do(req)
}

// call sends a call and decodes its JSON answer (at most limit bytes)
// into out when the status is one of want (default 200).
func (p *Provider) call(ctx context.Context, r request, limit int64, out any, want ...int) error {
	if len(want) == 0 {
		want = []int{200}
	}
	resp, err := p.do(ctx, r)
	resp, err = classify.Check(r.op, resp, err, want...)
	if err != nil {
		return err
	}
	if out == nil {
		resp.Body.Close()
		return nil
	}
	return classify.Decode(r.op, resp, limit, out)
}

// sessionPath is the path of a session's endpoint.
func sessionPath(id string, parts ...string) string {
	return "/v2/sandboxes/sessions/" + url.PathEscape(id) + strings.Join(append([]string{""}, parts...), "/")
}

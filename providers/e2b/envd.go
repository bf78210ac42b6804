package e2b

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"connectrpc.com/connect"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/e2b/internal/envd/filesystem/filesystemconnect"
	"github.com/computemw/kit/providers/e2b/internal/envd/process"
	"github.com/computemw/kit/providers/e2b/internal/envd/process/processconnect"
	"github.com/computemw/kit/providers/internal/vendorhttp"
)

// envd is the client of one sandbox's agent.
type envd struct {
	version envdVersion
	user    string       // the username of /files; "" lets envd pick
	base    string       // base URL, no trailing slash
	http    *http.Client // pinned to base's origin; sends the access token
	proc    processconnect.ProcessClient
	fs      filesystemconnect.FilesystemClient
}

// newEnvd makes the client of a sandbox's envd. envd runs in the tenant's
// sandbox, so it may answer anything: its client (see vendorhttp) sends
// the access token to envd's origin only and follows no redirect.
func (p *Provider) newEnvd(id, domain, token, version string) (*envd, error) {
	v := parseEnvdVersion(version)
	user := p.opts.User
	domain = cmpOr(domain, p.opts.Domain)
	base := fmt.Sprintf("https://%d-%s.%s", p.opts.EnvdPort, id, domain)
	if p.opts.EnvdURL != nil {
		base = p.opts.EnvdURL(id, domain)
	}
	base = strings.TrimSuffix(base, "/")
	creds := http.Header{}
	if token != "" {
		creds.Set("X-Access-Token", token)
	}
	if !v.atLeast(defaultUser) {
		// An envd older than 0.4.0 needs the user named: E2B's SDKs name
		// "user" with Basic authorization (packages/js-sdk/src/envd/rpc.ts,
		// authenticationHeader, 2.45.0).
		user = cmpOr(user, sdkDefaultUser)
		creds.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":")))
	}
	c, err := vendorhttp.New(p.opts.HTTPClient, base, creds)
	if err != nil {
		return nil, &computemw.Error{Code: computemw.CodeUnavailable, Message: "provider e2b is unavailable",
			Err: fmt.Errorf("e2b: sandbox %s: envd: %w", id, err)}
	}
	return &envd{
		version: v,
		user:    user,
		base:    base,
		http:    c,
		proc:    processconnect.NewProcessClient(c, base),
		fs:      filesystemconnect.NewFilesystemClient(c, base),
	}, nil
}

// retryConnect runs an idempotent envd call, retrying it while envd is
// unreachable or overloaded (not after a redirect).
func (p *Provider) retryConnect(ctx context.Context, op string, f func() error) error {
	delay := p.opts.RetryBase
	for i := 0; ; i++ {
		err := f()
		if err == nil {
			return nil
		}
		code := connect.CodeOf(err)
		if i >= p.opts.MaxRetries || ctx.Err() != nil || vendorhttp.Permanent(err) ||
			(code != connect.CodeUnavailable && code != connect.CodeResourceExhausted) {
			return classifyConnect(op, err)
		}
		if p.wait(ctx, delay) != nil {
			return classifyConnect(op, err)
		}
		delay = min(2*delay, p.opts.RetryMax)
	}
}

// keepaliveHeader asks envd for keepalive events on a process's stream.
const keepaliveHeader = "Keepalive-Ping-Interval"

// startRequest wraps a process start with the headers envd reads from it.
func (s *Sandbox) startRequest(req *process.StartRequest) *connect.Request[process.StartRequest] {
	r := connect.NewRequest(req)
	if iv := s.p.opts.KeepaliveInterval; iv > 0 {
		r.Header().Set(keepaliveHeader, strconv.Itoa(seconds(iv)))
	}
	return r
}

// has reports whether the sandbox's envd is at least version v.
func (e *envd) has(v envdVersion) bool { return e.version.atLeast(v) }

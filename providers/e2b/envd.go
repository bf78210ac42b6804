package e2b

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"connectrpc.com/connect"

	"github.com/computemw/kit/providers/e2b/internal/envd/filesystem/filesystemconnect"
	"github.com/computemw/kit/providers/e2b/internal/envd/process/processconnect"
)

// envd is the client of one sandbox's agent.
type envd struct {
	base  string // base URL, no trailing slash
	token string // X-Access-Token; empty when the sandbox is not secured
	http  *http.Client
	proc  processconnect.ProcessClient
	fs    filesystemconnect.FilesystemClient
}

// tokenDoer sends envd's access token with every request of the Connect
// clients.
type tokenDoer struct {
	c     *http.Client
	token string
}

func (d tokenDoer) Do(r *http.Request) (*http.Response, error) {
	if d.token != "" {
		r.Header.Set("X-Access-Token", d.token)
	}
	return d.c.Do(r)
}

func (p *Provider) newEnvd(id, domain, token string) *envd {
	domain = cmpOr(domain, p.opts.Domain)
	base := fmt.Sprintf("https://%d-%s.%s", p.opts.EnvdPort, id, domain)
	if p.opts.EnvdURL != nil {
		base = p.opts.EnvdURL(id, domain)
	}
	base = strings.TrimSuffix(base, "/")
	d := tokenDoer{c: p.opts.HTTPClient, token: token}
	return &envd{
		base:  base,
		token: token,
		http:  p.opts.HTTPClient,
		proc:  processconnect.NewProcessClient(d, base),
		fs:    filesystemconnect.NewFilesystemClient(d, base),
	}
}

// retryConnect runs an idempotent envd call, retrying it while envd is
// unreachable or overloaded.
func (p *Provider) retryConnect(ctx context.Context, op string, f func() error) error {
	delay := p.opts.RetryBase
	for i := 0; ; i++ {
		err := f()
		if err == nil {
			return nil
		}
		code := connect.CodeOf(err)
		if i >= p.opts.MaxRetries || ctx.Err() != nil || (code != connect.CodeUnavailable && code != connect.CodeResourceExhausted) {
			return classifyConnect(op, err)
		}
		if p.wait(ctx, delay) != nil {
			return classifyConnect(op, err)
		}
		delay = min(2*delay, p.opts.RetryMax)
	}
}

package modal

import (
	"context"
	"path"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/computemw/kit/computemw"
)

// Sandbox is one Modal sandbox. Every method is safe for concurrent use.
type Sandbox struct {
	p       *Provider
	id      string
	remote  *sdkSandbox
	workDir string // absolute, without a trailing slash

	executions atomic.Int64
	gone       atomic.Bool // Destroy has begun: every other method fails

	destroyMu sync.Mutex
	destroyed bool
}

var _ computemw.Sandbox = (*Sandbox)(nil)

func (p *Provider) newSandbox(remote *sdkSandbox) *Sandbox {
	return &Sandbox{p: p, id: remote.id(), remote: remote, workDir: p.opts.Workdir}
}

// ID implements computemw.Sandbox: Modal's sandbox ID.
func (s *Sandbox) ID() string { return s.id }

// Provider implements computemw.Sandbox.
func (s *Sandbox) Provider() string { return Name }

// WorkDir is the sandbox's working directory, the root of relative paths.
func (s *Sandbox) WorkDir() string { return s.workDir }

// Usage implements computemw.Sandbox. Modal reports no CPU time or peak
// memory per command, so only Executions is counted.
func (s *Sandbox) Usage(ctx context.Context) (computemw.Usage, error) {
	if err := s.alive(); err != nil {
		return computemw.Usage{}, err
	}
	return computemw.Usage{Executions: s.executions.Load()}, nil
}

// Destroy implements computemw.Sandbox: it terminates the Modal sandbox,
// which ends its processes. It is idempotent; a sandbox Modal no longer
// knows counts as destroyed.
func (s *Sandbox) Destroy(ctx context.Context) error {
	s.gone.Store(true)
	s.destroyMu.Lock()
	defer s.destroyMu.Unlock()
	if s.destroyed {
		return nil
	}
	err := s.p.retry.do(ctx, "terminate sandbox", s.remote.terminate)
	if err != nil && !errIsNotFound(err) {
		return err
	}
	s.destroyed = true
	s.remote.detach()
	s.p.untrack(s.id)
	return nil
}

func (s *Sandbox) alive() error {
	if s.gone.Load() {
		return computemw.Errorf(computemw.CodeNotFound, "sandbox %s is destroyed", s.id)
	}
	return nil
}

// resolve turns a path relative to the working directory into the
// absolute path Modal wants. Absolute paths and paths that leave the
// working directory are refused.
func (s *Sandbox) resolve(p string) (string, error) {
	if err := s.alive(); err != nil {
		return "", err
	}
	if strings.ContainsRune(p, 0) {
		return "", computemw.Errorf(computemw.CodeBadRequest, "invalid path: contains a NUL byte")
	}
	if path.IsAbs(p) {
		return "", computemw.Errorf(computemw.CodeBadRequest, "invalid path %q: must be relative to the sandbox's working directory", p)
	}
	c := path.Clean(p)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", computemw.Errorf(computemw.CodeBadRequest, "invalid path %q: leaves the sandbox's working directory", p)
	}
	if c == "." {
		return s.workDir, nil
	}
	return s.workDir + "/" + c, nil
}

// rel is the inverse of resolve, for the paths the kit shows.
func (s *Sandbox) rel(abs string) string {
	r := strings.TrimPrefix(strings.TrimPrefix(abs, s.workDir), "/")
	if r == "" {
		return "."
	}
	return r
}

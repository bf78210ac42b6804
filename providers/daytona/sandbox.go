package daytona

import (
	"context"
	"path"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/daytona/internal/toolboxclient"
	"github.com/computemw/kit/providers/internal/vendorhttp"
)

// Sandbox is one Daytona sandbox. Every method is safe for concurrent use.
type Sandbox struct {
	p       *Provider
	id      string
	name    string
	tb      *toolboxclient.Client
	workDir string // absolute, without a trailing slash

	executions atomic.Int64
	gone       atomic.Bool // Destroy has begun: every other method fails

	destroyMu sync.Mutex
	destroyed bool
}

var (
	_ computemw.Sandbox    = (*Sandbox)(nil)
	_ computemw.FileOpener = (*Sandbox)(nil)
)

// ID implements computemw.Sandbox: Daytona's sandbox ID.
func (s *Sandbox) ID() string { return s.id }

// Provider implements computemw.Sandbox.
func (s *Sandbox) Provider() string { return Name }

// WorkDir is the sandbox's working directory, the root of relative paths.
func (s *Sandbox) WorkDir() string { return s.workDir }

// Usage implements computemw.Sandbox. Daytona reports no CPU time or peak
// memory per command, so only Executions is counted.
func (s *Sandbox) Usage(ctx context.Context) (computemw.Usage, error) {
	if err := s.alive(); err != nil {
		return computemw.Usage{}, err
	}
	return computemw.Usage{Executions: s.executions.Load()}, nil
}

// KeepAlive tells Daytona the sandbox is in use, which restarts its
// auto-stop interval.
func (s *Sandbox) KeepAlive(ctx context.Context) error {
	if err := s.alive(); err != nil {
		return err
	}
	resp, err := s.p.api.UpdateLastActivity(vendorhttp.Idempotent(ctx), s.id, nil)
	resp, err = classify.Check("updateLastActivity", resp, err, 200, 201, 204)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// SetAutoStop changes how many minutes without activity stop the sandbox
// (0 disables auto-stop).
func (s *Sandbox) SetAutoStop(ctx context.Context, minutes int) error {
	if err := s.alive(); err != nil {
		return err
	}
	if minutes < 0 {
		return computemw.Errorf(computemw.CodeBadRequest, "auto-stop interval %d is negative", minutes)
	}
	resp, err := s.p.api.SetAutostopInterval(vendorhttp.Idempotent(ctx), s.id, float32(minutes), nil)
	resp, err = classify.Check("setAutostopInterval", resp, err, 200, 201)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// Destroy implements computemw.Sandbox: it deletes the Daytona sandbox,
// which ends its processes. It is idempotent; a sandbox Daytona no longer
// knows counts as destroyed.
func (s *Sandbox) Destroy(ctx context.Context) error {
	s.gone.Store(true)
	s.destroyMu.Lock()
	defer s.destroyMu.Unlock()
	if s.destroyed {
		return nil
	}
	if err := s.p.Delete(ctx, s.id); err != nil {
		return err
	}
	s.destroyed = true
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
// absolute path the toolbox wants. Absolute paths and paths that leave
// the working directory are refused.
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

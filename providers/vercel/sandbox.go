package vercel

import (
	"context"
	"net/http"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/internal/vendorhttp"
)

// Sandbox is one Vercel sandbox session. Every method is safe for
// concurrent use.
type Sandbox struct {
	p       *Provider
	id      string // the session ID
	name    string // the sandbox's name, when this provider made it
	workDir string // absolute, without a trailing slash

	executions atomic.Int64
	gone       atomic.Bool // Destroy has begun: every other method fails

	mu    sync.Mutex
	terms map[*terminal]struct{} // open terminals, closed by Destroy

	destroyMu sync.Mutex
	destroyed bool
}

var (
	_ computemw.Sandbox    = (*Sandbox)(nil)
	_ computemw.FileOpener = (*Sandbox)(nil)
)

// ID implements computemw.Sandbox: Vercel's session ID.
func (s *Sandbox) ID() string { return s.id }

// Provider implements computemw.Sandbox.
func (s *Sandbox) Provider() string { return Name }

// Name is the Vercel sandbox's name ("computemw-" and random hex) when
// this provider created it; empty for a session attached by its ID.
func (s *Sandbox) Name() string { return s.name }

// WorkDir is the session's working directory, the root of relative paths.
func (s *Sandbox) WorkDir() string { return s.workDir }

// Usage implements computemw.Sandbox: the executions counted here, and
// the session's active CPU time as Vercel reports it. Vercel reports no
// peak memory.
func (s *Sandbox) Usage(ctx context.Context) (computemw.Usage, error) {
	if err := s.alive(); err != nil {
		return computemw.Usage{}, err
	}
	u := computemw.Usage{Executions: s.executions.Load()}
	sess, err := s.p.getSession(ctx, s.id)
	if err != nil {
		return computemw.Usage{}, err
	}
	if ms := sess.ActiveCPUDurationMs; ms != nil {
		u.CPUTime = time.Duration(*ms * float64(time.Millisecond))
	}
	return u, nil
}

// ExtendTimeout lengthens the sandbox's life by d (whole milliseconds, at
// least one second), on top of what is left of it. It is not retried:
// sent twice, it would extend twice.
func (s *Sandbox) ExtendTimeout(ctx context.Context, d time.Duration) error {
	if err := s.alive(); err != nil {
		return err
	}
	if d < time.Second {
		return computemw.Errorf(computemw.CodeBadRequest, "extension %s is under a second", d)
	}
	return s.p.call(ctx, request{op: "extendTimeout", method: http.MethodPost, path: sessionPath(s.id, "extend-timeout"),
		body: map[string]int64{"duration": d.Milliseconds()}}, 1<<20, nil)
}

// Destroy implements computemw.Sandbox: it stops the session (POST
// .../stop, which blocks until the session has stopped and ends its
// processes). It is idempotent; a session Vercel no longer knows, or has
// stopped already, counts as destroyed.
func (s *Sandbox) Destroy(ctx context.Context) error {
	s.gone.Store(true)
	s.destroyMu.Lock()
	defer s.destroyMu.Unlock()
	if s.destroyed {
		return nil
	}
	err := s.p.call(vendorhttp.Idempotent(ctx), request{op: "stopSession", method: http.MethodPost, path: sessionPath(s.id, "stop")}, 4<<20, nil)
	if err != nil && !isGone(err) {
		return err
	}
	s.destroyed = true
	s.p.untrack(s.id)
	s.mu.Lock()
	terms := make([]*terminal, 0, len(s.terms))
	for t := range s.terms {
		terms = append(terms, t)
	}
	s.mu.Unlock()
	for _, t := range terms {
		t.Close()
	}
	return nil
}

// isGone reports whether err says the session is no more (404, or 410
// "sandbox_stopped").
func isGone(err error) bool {
	e := computemw.AsError(err)
	return e != nil && e.Code == computemw.CodeNotFound
}

func (s *Sandbox) alive() error {
	if s.gone.Load() {
		return computemw.Errorf(computemw.CodeNotFound, "sandbox %s is destroyed", s.id)
	}
	return nil
}

// resolve turns a path relative to the working directory into the
// absolute path the API wants. Absolute paths and paths that leave the
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

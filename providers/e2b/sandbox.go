package e2b

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/computemw/kit/computemw"
)

// Sandbox is one E2B sandbox. It implements computemw.Sandbox,
// computemw.FileOpener and computemw.TerminalOpener, and is safe for
// concurrent use.
type Sandbox struct {
	p        *Provider
	id       string
	template string
	envd     *envd
	maxExec  time.Duration // Resources.MaxExecutionTime, 0 for none

	executions atomic.Int64
	procSeq    atomic.Int64

	usageMu   sync.Mutex
	peakMem   int64
	usageSeen time.Time

	mu        sync.Mutex
	destroyed bool
	terms     map[*terminal]struct{}
}

func (p *Provider) newSandbox(b sandboxBody, maxExec time.Duration) (*Sandbox, error) {
	domain := ""
	if b.Domain != nil {
		domain = *b.Domain
	}
	e, err := p.newEnvd(b.SandboxID, domain, b.EnvdAccessToken, b.EnvdVersion)
	if err != nil {
		return nil, err
	}
	return &Sandbox{
		p: p, id: b.SandboxID, template: b.TemplateID, maxExec: maxExec,
		envd: e, terms: map[*terminal]struct{}{},
	}, nil
}

// ID is E2B's sandbox ID.
func (s *Sandbox) ID() string { return s.id }

// Provider returns "e2b".
func (s *Sandbox) Provider() string { return Name }

// Template is the template the sandbox was made from.
func (s *Sandbox) Template() string { return s.template }

// alive fails once the sandbox is destroyed.
func (s *Sandbox) alive() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.destroyed {
		return &computemw.Error{Code: computemw.CodeNotFound, Message: "the sandbox was destroyed"}
	}
	return nil
}

// SetTimeout makes the sandbox expire d from now (whole seconds, rounded
// up), replacing its previous lifetime.
func (s *Sandbox) SetTimeout(ctx context.Context, d time.Duration) error {
	if err := s.alive(); err != nil {
		return err
	}
	if d <= 0 {
		return computemw.Errorf(computemw.CodeBadRequest, "the sandbox timeout must be positive")
	}
	// Setting the same lifetime twice is the same as once: retried.
	return s.p.api(ctx, call{
		op: "set sandbox timeout", method: http.MethodPost, path: "/sandboxes/" + url.PathEscape(s.id) + "/timeout",
		body: timeoutBody{Timeout: seconds(d)}, idempotent: true, want: []int{http.StatusNoContent},
	})
}

// Info describes the sandbox as the control plane sees it.
func (s *Sandbox) Info(ctx context.Context) (SandboxInfo, error) {
	return s.p.Get(ctx, s.id)
}

// Usage reports what E2B lets a client know. Executions counts the Exec and
// RunCode calls made through this value. PeakMemory is the highest memUsed
// of the control plane's metrics samples of the sandbox seen so far: the
// whole VM's used memory (its kernel and envd included), sampled every few
// seconds, so short peaks can be missed; it is refreshed at most every five
// seconds. CPUTime is always zero: E2B reports a CPU percentage per sample,
// not CPU time, and summing samples would be a guess. A failure to read the
// metrics leaves PeakMemory as it was and is not an error.
func (s *Sandbox) Usage(ctx context.Context) (computemw.Usage, error) {
	if err := s.alive(); err != nil {
		return computemw.Usage{}, err
	}
	s.usageMu.Lock()
	defer s.usageMu.Unlock()
	if time.Since(s.usageSeen) >= 5*time.Second {
		var samples []sandboxMetric
		err := s.p.api(ctx, call{
			op: "sandbox metrics", method: http.MethodGet, path: "/sandboxes/" + url.PathEscape(s.id) + "/metrics",
			idempotent: true, want: []int{http.StatusOK}, out: &samples,
		})
		if err == nil {
			s.usageSeen = time.Now()
			for _, m := range samples {
				s.peakMem = max(s.peakMem, m.MemUsed)
			}
		}
	}
	return computemw.Usage{PeakMemory: s.peakMem, Executions: s.executions.Load()}, nil
}

// Destroy ends the sandbox's terminals and kills the sandbox. It is
// idempotent; a sandbox E2B no longer knows counts as destroyed.
func (s *Sandbox) Destroy(ctx context.Context) error {
	s.mu.Lock()
	if s.destroyed {
		s.mu.Unlock()
		return nil
	}
	s.destroyed = true
	terms := make([]*terminal, 0, len(s.terms))
	for t := range s.terms {
		terms = append(terms, t)
	}
	s.mu.Unlock()
	for _, t := range terms {
		_ = t.Close()
	}
	err := s.p.Kill(ctx, s.id)
	if err != nil && !errors.Is(err, computemw.ErrNotFound) {
		// Not killed: let a later Destroy try again.
		s.mu.Lock()
		s.destroyed = false
		s.mu.Unlock()
		return err
	}
	s.p.untrack(s.id)
	return nil
}

// nextTag names a process of this client, so that it can be signalled
// before its pid is known.
func (s *Sandbox) nextTag() string {
	return "computemw-" + strconv.FormatInt(s.procSeq.Add(1), 10) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
}

var _ interface {
	computemw.Sandbox
	computemw.FileOpener
	computemw.TerminalOpener
} = (*Sandbox)(nil)

package cloudflare

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/computemw/kit/computemw"
)

// Sandbox is one Cloudflare sandbox behind the bridge. It implements
// computemw.Sandbox, computemw.FileOpener and computemw.TerminalOpener,
// and is safe for concurrent use.
type Sandbox struct {
	p       *Provider
	id      string
	maxExec time.Duration // Resources.MaxExecutionTime, 0 for none

	executions atomic.Int64

	mu        sync.Mutex
	env       map[string]string // CreateOptions.Env, once known
	envKnown  bool              // false for an attached sandbox until its env file is read
	destroyed bool
	terms     map[*terminal]struct{}
}

var _ interface {
	computemw.Sandbox
	computemw.FileOpener
	computemw.TerminalOpener
} = (*Sandbox)(nil)

// ID is the bridge's sandbox ID.
func (s *Sandbox) ID() string { return s.id }

// Provider returns "cloudflare".
func (s *Sandbox) Provider() string { return Name }

// alive fails once the sandbox is destroyed.
func (s *Sandbox) alive() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.destroyed {
		return &computemw.Error{Code: computemw.CodeNotFound, Message: "the sandbox was destroyed"}
	}
	return nil
}

// Running asks the bridge whether the sandbox's container is alive. The
// bridge starts the container of a sandbox that has none (after Destroy,
// or after Cloudflare put it to sleep), with an empty workspace.
func (s *Sandbox) Running(ctx context.Context) (bool, error) {
	if err := s.alive(); err != nil {
		return false, err
	}
	return s.running(ctx)
}

func (s *Sandbox) running(ctx context.Context) (bool, error) {
	var out runningBody
	err := s.p.do(ctx, call{op: "running", method: http.MethodGet, path: sandboxPath(s.id) + "/running",
		idempotent: true, want: []int{http.StatusOK}, out: &out})
	return out.Running, err
}

// Usage reports what the bridge lets a client know: Executions counts the
// Exec and RunCode calls made through this value. The bridge reports no
// CPU time or memory.
func (s *Sandbox) Usage(context.Context) (computemw.Usage, error) {
	if err := s.alive(); err != nil {
		return computemw.Usage{}, err
	}
	return computemw.Usage{Executions: s.executions.Load()}, nil
}

// Destroy ends the sandbox's terminals and destroys its container. It is
// idempotent.
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
		t.abandon()
	}
	if err := s.p.DestroyID(ctx, s.id); err != nil {
		// Not destroyed: let a later Destroy try again.
		s.mu.Lock()
		s.destroyed = false
		s.mu.Unlock()
		return err
	}
	s.p.untrack(s.id)
	return nil
}

// environment returns CreateOptions.Env of the sandbox, reading its env
// file once when the sandbox was attached.
func (s *Sandbox) environment(ctx context.Context) (map[string]string, error) {
	s.mu.Lock()
	if s.envKnown {
		env := s.env
		s.mu.Unlock()
		return env, nil
	}
	s.mu.Unlock()
	data, err := s.getFile(ctx, envFile, 1<<20)
	if err != nil && !errors.Is(err, computemw.ErrNotFound) {
		return nil, err
	}
	env := decodeEnv(string(data))
	s.mu.Lock()
	s.env, s.envKnown = env, true
	s.mu.Unlock()
	return env, nil
}

// hidden is the workspace directory where the provider keeps what it
// needs: the env file, code being run, standard input being fed.
const hidden = ".computemw"

// envFile holds CreateOptions.Env as lines of `export NAME='value'`, read
// by every command (sh's "." reads it) and by Attach.
const envFile = hidden + "/env"

// encodeEnv writes env as lines a POSIX shell reads with ".".
func encodeEnv(env map[string]string) string {
	var b strings.Builder
	for _, k := range sortedKeys(env) {
		b.WriteString("export " + k + "=" + shellQuote(env[k]) + "\n")
	}
	return b.String()
}

// decodeEnv reads what encodeEnv wrote: lines `export NAME=` followed by
// single-quoted runs and \' between them (a value may span lines).
func decodeEnv(s string) map[string]string {
	env := map[string]string{}
	for s != "" {
		rest, ok := strings.CutPrefix(s, "export ")
		if !ok {
			_, s, _ = strings.Cut(s, "\n")
			continue
		}
		k, rest, ok := strings.Cut(rest, "=")
		if !ok {
			return env
		}
		var v strings.Builder
		for {
			if q, ok := strings.CutPrefix(rest, "'"); ok {
				end := strings.IndexByte(q, '\'')
				if end < 0 {
					return env
				}
				v.WriteString(q[:end])
				rest = q[end+1:]
			} else if q, ok := strings.CutPrefix(rest, `\'`); ok {
				v.WriteByte('\'')
				rest = q
			} else {
				break
			}
		}
		env[k] = v.String()
		_, s, _ = strings.Cut(rest, "\n")
	}
	return env
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// newTag is a random name part: lowercase letters and digits.
func newTag() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

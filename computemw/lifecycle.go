package computemw

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// capacityRetryAfter is the Retry-After sent when the sandbox cap is hit.
const capacityRetryAfter = time.Second

// Create makes a sandbox on the named provider ("" is the default) that the
// kit tracks until it is destroyed. It is the Go form of the seed's
// compute(provider, opts). The caller must Destroy it; [Kit.Close] destroys
// whatever is left.
func (k *Kit) Create(ctx context.Context, provider string, opts CreateOptions) (Sandbox, error) {
	p, err := k.Provider(provider)
	if err != nil {
		return nil, err
	}
	if err := k.reserve(); err != nil {
		return nil, err
	}
	start := time.Now()
	sb, err := p.Create(ctx, opts)
	if err != nil {
		k.unreserve()
		if ctx.Err() != nil && StatusOf(err) == 500 {
			return nil, fmt.Errorf("computemw: create sandbox on %q: %w", p.Name(), ctx.Err())
		}
		return nil, fmt.Errorf("computemw: create sandbox on %q: %w", p.Name(), err)
	}
	took := time.Since(start)
	m := &managed{Sandbox: sb, kit: k}
	k.mu.Lock()
	k.live[m] = struct{}{}
	k.mu.Unlock()
	for _, h := range k.cfg.Hooks {
		h.SandboxCreated(ctx, m, took)
	}
	return m, nil
}

// Acquire creates a sandbox for the span of one request and returns a
// release function that destroys it. Release is idempotent, runs even when
// the request's context is already cancelled (client gone), and is bounded by
// Config.DestroyTimeout. Call it with defer right after a nil error.
func (k *Kit) Acquire(ctx context.Context, provider string, opts CreateOptions) (Sandbox, func(), error) {
	sb, err := k.Create(ctx, provider, opts)
	if err != nil {
		return nil, func() {}, err
	}
	release := func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.cfg.DestroyTimeout)
		defer cancel()
		if err := sb.Destroy(dctx); err != nil {
			k.log.ErrorContext(ctx, "computemw: destroy sandbox", "sandbox", sb.ID(), "provider", sb.Provider(), "error", err)
		}
	}
	return sb, release, nil
}

func (k *Kit) reserve() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return &Error{Code: CodeUnavailable, Message: "shutting down", RetryAfter: capacityRetryAfter}
	}
	if k.reserved >= k.cfg.MaxSandboxes {
		return &Error{Code: CodeUnavailable, Message: "sandbox capacity reached, retry later", RetryAfter: capacityRetryAfter}
	}
	k.reserved++
	return nil
}

func (k *Kit) unreserve() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.reserved--
	if k.closed && k.reserved == 0 {
		close(k.drained)
	}
}

// managed is a sandbox tracked by the kit: its Destroy frees its slot once.
type managed struct {
	Sandbox
	kit  *Kit
	once sync.Once
	err  error
}

// Destroy destroys the sandbox once and frees its slot in the kit.
func (m *managed) Destroy(ctx context.Context) error {
	m.once.Do(func() {
		m.err = m.Sandbox.Destroy(ctx)
		m.kit.mu.Lock()
		delete(m.kit.live, m)
		m.kit.mu.Unlock()
		m.kit.unreserve()
		for _, h := range m.kit.cfg.Hooks {
			h.SandboxDestroyed(ctx, m, m.err)
		}
	})
	return m.err
}

// OpenTerminal forwards to the provider's sandbox when it has terminals.
func (m *managed) OpenTerminal(ctx context.Context, opts TerminalOptions) (Terminal, error) {
	to, ok := m.Sandbox.(TerminalOpener)
	if !ok {
		return nil, Errorf(CodeExecution, "provider %q has no terminals", m.Provider())
	}
	return to.OpenTerminal(ctx, opts)
}

// Unwrap returns the provider's own sandbox.
func (m *managed) Unwrap() Sandbox { return m.Sandbox }

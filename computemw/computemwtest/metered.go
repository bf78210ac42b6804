package computemwtest

import (
	"context"
	"testing"

	"github.com/computemw/kit/computemw"
)

// Metered wraps fake so that every execution's Result reports the usage
// of measured — its CPUTime, PeakMemory and ExecutionTime — as a real
// provider's measurements would, for tests of quotas and billing.
// Results of failed executions (timeout, resource) carry it too.
func Metered(fake *FakeProvider, measured computemw.Result) computemw.Provider {
	return &meteredProvider{FakeProvider: fake, m: measured}
}

type meteredProvider struct {
	*FakeProvider
	m computemw.Result
}

// Create implements computemw.Provider.
func (p *meteredProvider) Create(ctx context.Context, opts computemw.CreateOptions) (computemw.Sandbox, error) {
	sb, err := p.FakeProvider.Create(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &meteredSandbox{Sandbox: sb, m: p.m}, nil
}

type meteredSandbox struct {
	computemw.Sandbox
	m computemw.Result
}

func (s *meteredSandbox) measure(res *computemw.Result, err error) (*computemw.Result, error) {
	if res != nil {
		res.CPUTime, res.PeakMemory, res.ExecutionTime = s.m.CPUTime, s.m.PeakMemory, s.m.ExecutionTime
	}
	return res, err
}

// Exec implements computemw.Sandbox.
func (s *meteredSandbox) Exec(ctx context.Context, command string, opts computemw.ExecOptions) (*computemw.Result, error) {
	return s.measure(s.Sandbox.Exec(ctx, command, opts))
}

// RunCode implements computemw.Sandbox.
func (s *meteredSandbox) RunCode(ctx context.Context, language, code string, opts computemw.ExecOptions) (*computemw.Result, error) {
	return s.measure(s.Sandbox.RunCode(ctx, language, code, opts))
}

// MeteredKit builds a kit over a fresh [FakeProvider] named "fake" whose
// executions report measured (see [Metered]); cfg's Providers are set by
// it, and its Logger when nil. At cleanup it closes the kit and fails the
// test if any sandbox is left.
func MeteredKit(t testing.TB, cfg computemw.Config, measured computemw.Result) (*computemw.Kit, *FakeProvider) {
	t.Helper()
	fake := NewFakeProvider("fake")
	return kitOver(t, cfg, fake, Metered(fake, measured)), fake
}

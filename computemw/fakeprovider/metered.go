package fakeprovider

import (
	"context"

	"github.com/computemw/kit/computemw"
)

// Metered wraps fake so that every execution's Result reports the usage
// of measured — its CPUTime, PeakMemory and ExecutionTime — as a real
// provider's measurements would, for tests of quotas and billing.
// Results of failed executions (timeout, resource) carry it too.
func Metered(fake *Provider, measured computemw.Result) computemw.Provider {
	return &meteredProvider{Provider: fake, m: measured}
}

type meteredProvider struct {
	*Provider
	m computemw.Result
}

// Create implements computemw.Provider.
func (p *meteredProvider) Create(ctx context.Context, opts computemw.CreateOptions) (computemw.Sandbox, error) {
	sb, err := p.Provider.Create(ctx, opts)
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

//go:build !linux

package local

import (
	"context"
	"fmt"
	"runtime"

	"github.com/computemw/kit/computemw"
)

// errNotLinux is what New and Create return on systems other than Linux.
var errNotLinux = fmt.Errorf("local: the local provider needs Linux (bubblewrap namespaces); use a remote provider on %s", runtime.GOOS)

// Provider is the local provider. It runs only on Linux; elsewhere New
// fails and no Provider exists.
type Provider struct{}

// New fails: the local provider needs Linux.
func New(cfg Config) (*Provider, error) { return nil, errNotLinux }

// Name implements computemw.Provider.
func (p *Provider) Name() string { return Name }

// Languages implements computemw.LanguageLister: none off Linux.
func (p *Provider) Languages() []string { return nil }

// Runtimes implements computemw.LanguageLister: none off Linux.
func (p *Provider) Runtimes(context.Context) ([]computemw.Runtime, error) {
	return []computemw.Runtime{}, nil
}

// CgroupVersion is 0: no cgroups off Linux.
func (p *Provider) CgroupVersion() int { return 0 }

// Close implements computemw.Closer; there is nothing to close.
func (p *Provider) Close(ctx context.Context) error { return nil }

// Create implements computemw.Provider; it fails off Linux.
func (p *Provider) Create(ctx context.Context, opts computemw.CreateOptions) (computemw.Sandbox, error) {
	return nil, errNotLinux
}

// StartGateStats implements computemw.StartGateReporter: no start gate off
// Linux.
func (p *Provider) StartGateStats() computemw.StartGateStats { return computemw.StartGateStats{} }

// PoolStats implements computemw.PoolReporter: no pool off Linux.
func (p *Provider) PoolStats() computemw.PoolStats { return computemw.PoolStats{} }

// SandboxCount returns 0: no sandbox is made on this platform.
func (p *Provider) SandboxCount() int { return 0 }

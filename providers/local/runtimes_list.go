//go:build linux

package local

import "slices"

// RuntimeTable lists the provider's runtime table (Config.Runtimes) in its
// order, with whether each is available on the host's system directories
// (Templates tells which are in each template).
func (p *Provider) RuntimeTable() []RuntimeInfo {
	out := make([]RuntimeInfo, 0, len(p.cfg.Runtimes))
	for i := range p.cfg.Runtimes {
		rt := &p.cfg.Runtimes[i]
		out = append(out, RuntimeInfo{
			Name: rt.Name, Aliases: slices.Clone(rt.Aliases), Release: rt.Release, Compiled: rt.compiled(),
			Available: p.rt.found[rt], Reason: p.rt.missing[rt.Name],
		})
	}
	return out
}

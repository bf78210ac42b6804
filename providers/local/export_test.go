package local

import "github.com/computemw/kit/computemw"

// Test-only accessors for the external test package.

// SandboxCgroupDirs returns the host directories of a sandbox's cgroup, one
// per hierarchy (nil without cgroups).
func SandboxCgroupDirs(sb computemw.Sandbox) []string {
	s := sb.(*sandbox)
	if s.p.cg == nil {
		return nil
	}
	return s.p.cg.paths(s.p.cgroupRel(s.id))
}

// SandboxWorkspace returns the host path of a sandbox's workspace.
func SandboxWorkspace(sb computemw.Sandbox) string { return sb.(*sandbox).ws }

// CgroupParentDirs returns the host directories of the provider's
// CgroupParent, one per hierarchy (nil without cgroups).
func CgroupParentDirs(p *Provider) []string {
	if p.cg == nil {
		return nil
	}
	return p.cg.paths("/" + p.cfg.CgroupParent)
}

// InstanceName returns the provider's instance name (its directory under
// BaseDir and its cgroup under CgroupParent).
func InstanceName(p *Provider) string { return p.instance }

// TmpfsWorkspaces reports whether the provider's workspaces are tmpfs
// mounts of their own.
func TmpfsWorkspaces(p *Provider) bool { return p.tmpfsWS }

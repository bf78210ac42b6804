//go:build !linux

package local

// Templates lists the provider's templates: none off Linux.
func (p *Provider) Templates() []TemplateInfo { return nil }

// TemplateNames implements computemw.LanguageLister: none off Linux.
func (p *Provider) TemplateNames() []string { return nil }

// RuntimeTable lists the runtime table: empty off Linux.
func (p *Provider) RuntimeTable() []RuntimeInfo { return nil }

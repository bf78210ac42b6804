package local

import (
	"path/filepath"
	"time"
)

// TemplateInfo describes one of the provider's templates (Config.Templates):
// a root filesystem that sandboxes run on instead of the host's system
// directories.
type TemplateInfo struct {
	// Name is what CreateOptions.Template (and a session's or WebSocket's
	// "template") names it by.
	Name string `json:"name"`
	// Root is the directory on the host.
	Root string `json:"root"`
	// Default reports that sandboxes that name no template get it.
	Default bool `json:"default"`
	// Languages are the names and aliases of the runtimes whose tools the
	// template has.
	Languages []string `json:"languages"`
	// Packages lists the template's packages ("name version"), when it
	// was built by scripts/build-template.sh.
	Packages []string `json:"packages,omitempty"`
}

// setCompileDefaults gives the compile and build cache settings their
// defaults.
func (c *Config) setCompileDefaults() {
	if c.CompileTimeout <= 0 {
		c.CompileTimeout = 60 * time.Second
	}
	if c.CompileMemoryMB <= 0 {
		c.CompileMemoryMB = 1024
	}
	if c.BuildCacheDir == "" {
		c.BuildCacheDir = filepath.Join(c.BaseDir, "buildcache")
	}
	if c.BuildCacheMB <= 0 {
		c.BuildCacheMB = 1024
	}
}
